/**
 * The baseline the write rows are held to: the rows Patron's accrual writes (lock the account,
 * insert the entry and its lot, update the balances, one transaction), with raw `pg` on one
 * connection per client — no ORM, no HTTP — on the real schema.
 */
import type { Contestant } from './interleave';
import { inTransaction, openConnections } from './raw-pg';

const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;

/**
 * The baseline row: the same rows Patron's accrual writes, with raw SQL on one connection per
 * client. `beside` names a second measurement of it, in turns with other rows (op "baselineOrders"
 * beside the order rows), so that their ratios divide by a baseline of the same minutes.
 */
export function baseline(
  row: string,
  databaseUrl: string,
  clients: number,
  programId: string,
  accounts: string[],
  label: 'uniform' | 'hot',
  beside?: { op: string; name: string },
): Contestant {
  return {
    row,
    label: { name: `baseline (raw pg) ${label}${beside ? `, ${beside.name}` : ''}`, op: beside?.op ?? 'baseline', accounts: label },
    clients,
    open: async () => {
      const { conns, close } = await openConnections(databaseUrl, clients, 'patron-bench-baseline');
      return {
        close,
        operation: async (w) => {
          const c = conns[w]!;
          const accountId = pick(accounts);
          const now = new Date();
          await inTransaction(c, async () => {
            const { rows: [a] } = await c.query(
              'select id, available, pending, reserved, lifetime_earned from account where id = $1 for update',
              [accountId],
            );
            const available = Number(a.available) + 1;
            const { rows: [e] } = await c.query(
              `insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
                 available_after, pending_after, reserved_after, cause_type, cause_id, reason, idempotency_key, created_at)
               values ($1, $2, 'accrual', 1, 1, 0, 0, $3, $4, $5, 'api', 'bench', null, $6, $7) returning id`,
              [programId, accountId, available, a.pending, a.reserved, `bl-${w}-${now.getTime()}-${Math.random()}`, now],
            );
            await c.query(
              `insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
               values ($1, $2, $3, 1, 1, $4, $4, null, $4)`,
              [programId, accountId, e.id, now],
            );
            await c.query(
              `update account set available = $1, lifetime_earned = $2, entry_count = entry_count + 1, updated_at = $3 where id = $4`,
              [available, Number(a.lifetime_earned) + 1, now, accountId],
            );
          });
        },
      };
    },
  };
}
