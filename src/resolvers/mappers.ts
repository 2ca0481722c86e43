import type { EntryRecord } from '../services/ledger';
import type { AccountSnapshot, AuthorizationRecord } from '../services/ledger';
import type { LotRecord, Page } from '../services/ledger';
import type { Account, Authorization, LedgerEntry, Lot } from '../graphql/types/ledger';
import { LotStatus } from '../graphql/types/ledger';
import type { Page as ServicePage } from '../services/shared';
import type { Identity } from '../graphql/context';
import { CauseType } from '../entities/ledger-entry';

/** Service records to GraphQL objects: ids as strings, names as the schema says them. */
export const toLedgerEntry = (e: EntryRecord): LedgerEntry => ({
  id: String(e.id),
  memberId: e.memberId,
  kind: e.kind,
  amount: e.amount,
  debtChange: e.deltaDebt,
  balanceAfter: e.available,
  pendingAfter: e.pending,
  reservedAfter: e.reserved,
  causeType: e.causeType,
  causeId: e.causeId,
  ruleVersionId: e.ruleVersionId,
  reason: e.reason,
  idempotencyKey: e.idempotencyKey,
  reversesEntryId: e.reversesEntryId == null ? null : String(e.reversesEntryId),
  partlyReversesEntryId: e.partlyReversesEntryId == null ? null : String(e.partlyReversesEntryId),
  authorizationId: e.authorizationId,
  lotId: e.lotId == null ? null : String(e.lotId),
  createdAt: e.createdAt,
});

/**
 * A customer's view of an entry: the shop's plumbing stays out of it — no idempotency keys (the
 * shop's request ids) and no API key id behind API and admin causes. Orders, rules and jobs
 * still name themselves.
 */
export const toCustomerLedgerEntry = (e: EntryRecord): LedgerEntry => ({
  ...toLedgerEntry(e),
  causeId: e.causeType === CauseType.API || e.causeType === CauseType.ADMIN ? null : e.causeId,
  idempotencyKey: null,
});

/** The entry mapper for the caller: customers get {@link toCustomerLedgerEntry}. */
export const ledgerEntryMapper = (identity: Identity) => (identity.kind === 'customer' ? toCustomerLedgerEntry : toLedgerEntry);

/** `programId` rides along, unexposed, so money fields can find the point value. */
export type AccountValue = Omit<Account, 'availableMoney' | 'pendingMoney' | 'reservedMoney'> & { programId: string };

/** The account's id is its member's id (one account per member), so clients' caches can key it. */
export const toAccount = (a: AccountSnapshot, programId: string): AccountValue => ({ ...a, id: a.memberId, programId });

export const toLot = (l: LotRecord): Lot => ({ ...l, id: String(l.id), status: l.status as LotStatus });

export const toAuthorization = (a: AuthorizationRecord): Authorization => ({ ...a });

/**
 * The cursor of one row, as the list queries write `endCursor` (src/services/ledger-queries.ts):
 * every edge's cursor works as `after`, and the last one equals `pageInfo.endCursor` (tested).
 */
const cursorOf = (id: number) => Buffer.from(`c:${id}`).toString('base64url');

export const toPage = <T, G>(page: Page<T & { id: number }>, map: (t: T & { id: number }) => G) => {
  const nodes = page.nodes.map(map);
  return {
    nodes,
    edges: page.nodes.map((row, i) => ({ cursor: cursorOf(row.id), node: nodes[i] })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
  };
};

/**
 * A service page as a connection: `nodes`, `edges { cursor node }` with each row's cursor as the
 * service writes it (so every edge's cursor works as `after`), and `pageInfo`.
 */
export const toConnection = <T, G>(page: ServicePage<T>, map: (t: T) => G, cursorOf: (t: T) => string) => {
  const nodes = page.nodes.map(map);
  return {
    nodes,
    edges: page.nodes.map((row, i) => ({ cursor: cursorOf(row), node: nodes[i] })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
  };
};
