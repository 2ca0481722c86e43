/**
 * The API rows: accrue and redeem over GraphQL (measured in turns with the raw accrual), the
 * balance query (in turns with a raw read handler and `{ __typename }`), and the server warm-up
 * that compiles their code paths before the first of them.
 */
import type { CpuMeter } from './cpu';
import { baseline } from './baseline';
import { overGraphQL, type Contestant } from './interleave';
import { GraphQLClient } from './load';

const ACCRUE = `mutation Accrue($input: AccrueInput!) {
  accrue(input: $input) { entry { id amount balanceAfter } account { available pending } }
}`;
const REDEEM = `mutation Redeem($input: RedeemInput!) {
  redeem(input: $input) { entry { id amount balanceAfter } account { available pending } }
}`;
const BALANCE = `query Balance($id: ID!) { account(member: { id: $id }) { available } }`;
const TYPENAME = `{ __typename }`;

const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;

export interface ApiRowsContext {
  patron: { url: string; apiKey: string };
  databaseUrl: string;
  programId: string;
  memberIds: string[];
  accountIds: string[];
  hotMembers: string[];
  hotAccounts: string[];
  runId: string;
}

export function apiRows(ctx: ApiRowsContext) {
  let seq = 0;
  const key = (kind: string) => `${kind}-${ctx.runId}-${++seq}`;
  const write = (op: 'accrue' | 'redeem', row: string, label: Contestant['label'], members: string[], clients: number) =>
    overGraphQL(row, label, clients, ctx.patron, (client) =>
      client.request(op === 'accrue' ? ACCRUE : REDEEM, { input: { member: { id: pick(members) }, points: 1, idempotencyKey: key('bench') } }),
    );
  const balance = (client: GraphQLClient) => client.request(BALANCE, { id: pick(ctx.memberIds) });
  return {
    /**
     * The server's code paths get JIT-compiled before the first measured row, so that the first
     * row is not the one that pays for it: a few seconds of every request kind, not recorded.
     */
    async warmUp(seconds: number): Promise<void> {
      const client = new GraphQLClient(ctx.patron.url, ctx.patron.apiKey, 8);
      const until = Date.now() + seconds * 1000;
      const member = () => ({ id: pick(ctx.memberIds) });
      const kinds = [
        () => client.request(ACCRUE, { input: { member: member(), points: 1, idempotencyKey: key('warm') } }),
        () => client.request(REDEEM, { input: { member: member(), points: 1, idempotencyKey: key('warm') } }),
        () => balance(client),
        () => client.request(TYPENAME),
      ];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = w; Date.now() < until; i++) await kinds[i % kinds.length]!().catch(() => undefined);
        }),
      );
      client.close();
    },
    /** The raw accrual, uniform and hot, with accrue and redeem at 8 and 32 clients. */
    writes(): Contestant[] {
      const rows = [
        baseline('baseline uniform 8', ctx.databaseUrl, 8, ctx.programId, ctx.accountIds, 'uniform'),
        baseline('baseline hot 8', ctx.databaseUrl, 8, ctx.programId, ctx.hotAccounts, 'hot'),
      ];
      for (const op of ['accrue', 'redeem'] as const) {
        for (const clients of [8, 32]) {
          for (const [accounts, members] of [['uniform', ctx.memberIds], ['hot', ctx.hotMembers]] as const) {
            rows.push(write(op, `${op} ${accounts} ${clients}`, { name: `${op} (GraphQL) ${accounts}`, op, accounts }, members, clients));
          }
        }
      }
      return rows;
    },
    /** The balance query, the raw read handler (when started) and `{ __typename }` at `clients`. */
    reads(clients: number, rawRead: { port: number; meter: CpuMeter } | null): Contestant[] {
      const raw = rawRead && { url: `http://127.0.0.1:${rawRead.port}/graphql`, apiKey: 'none', meter: rawRead.meter };
      return [
        overGraphQL(`balance ${clients}`, { name: 'balance query account{available}', op: 'balance', accounts: 'uniform' }, clients, ctx.patron, balance),
        ...(raw ? [overGraphQL(`raw-read ${clients}`, { name: 'raw node:http + pg, same read', op: 'rawRead', accounts: 'uniform' }, clients, raw, balance)] : []),
        overGraphQL(`typename ${clients}`, { name: 'query { __typename }', op: 'typename', accounts: '-' }, clients, ctx.patron, (client) => client.request(TYPENAME)),
      ];
    },
    /** Accruals at 8 clients under another label (the expiry rows). */
    accrue: (label: Contestant['label']) => write('accrue', label.op, label, ctx.memberIds, 8),
  };
}
