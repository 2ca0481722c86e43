import type { EntryRecord } from '../services/ledger';
import type { AccountSnapshot, AuthorizationRecord } from '../services/ledger';
import { ledgerCursor, type LedgerList, type LotRecord, type Page } from '../services/ledger';
import type { Account, Authorization, LedgerEntry, Lot } from '../graphql/types/ledger';
import { LotStatus } from '../graphql/types/ledger';
import type { Page as ServicePage } from '../services/shared';
import type { Context } from '../graphql/context';
import type { CustomerIds } from '../services/access';
import { badInput } from '../errors';
import { CauseType } from '../entities/ledger-entry';
import type { AwardPart } from '../services/earning';
import { requestContext } from './scope';

/** An entry as resolvers return it: its number rides along, unexposed, for `publicId`. */
export type LedgerEntryValue = LedgerEntry & { serial: number };

/** Service records to GraphQL objects: ids as strings, names as the schema says them. */
export const toLedgerEntry = (e: EntryRecord): LedgerEntryValue => ({
  serial: e.id,
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
  orderId: e.ownerType === 'order' ? e.ownerId : null,
  createdAt: e.createdAt,
});

/**
 * A customer's view of an entry: the shop's plumbing stays out of it — no idempotency keys (the
 * shop's request ids) and no API key id behind API and admin causes — and entries and lots are
 * named by their customer-facing ids (CustomerIds), which say nothing of the shop's volume.
 * Rules and jobs still name themselves, and orders do when they are the customer's own
 * (`ownOrders`): a referrer's award is owned by the order of the member they referred, whose
 * id and reasons stay the shop's.
 */
export const toCustomerLedgerEntry = (ids: CustomerIds, ownOrders: ReadonlySet<string>) => (e: EntryRecord): LedgerEntryValue => {
  const entryId = (id: number | null) => (id == null ? null : ids.encode('entry', e.memberId, id));
  const othersOrder = e.causeType === CauseType.ORDER && !ownOrders.has(e.causeId!);
  const hidden = e.causeType === CauseType.API || e.causeType === CauseType.ADMIN || othersOrder;
  return {
    ...toLedgerEntry(e),
    id: entryId(e.id)!,
    reversesEntryId: entryId(e.reversesEntryId),
    partlyReversesEntryId: entryId(e.partlyReversesEntryId),
    lotId: e.lotId == null ? null : ids.encode('lot', e.memberId, e.lotId),
    causeId: hidden ? null : e.causeId,
    // The shop's words about someone else's order (why it was cancelled) are not the referrer's to read.
    reason: othersOrder ? null : e.reason,
    orderId: e.ownerType === 'order' && ownOrders.has(e.ownerId!) ? e.ownerId : null,
    idempotencyKey: null,
  };
};

/** The shop order ids entries name (as their owner or their cause): what a customer's view checks. */
export const orderIdsOf = (entries: readonly EntryRecord[]): string[] =>
  entries.flatMap((e) => [e.ownerType === 'order' ? e.ownerId : null, e.causeType === CauseType.ORDER ? e.causeId : null]).filter((id): id is string => id != null);

/** The customer's view of these entries, with their own orders looked up once. */
export async function customerEntryMapper(ctx: Context, memberId: string, entries: readonly EntryRecord[]) {
  const ownOrders = await ctx.services.orders.ownOrderIds(requestContext(ctx), memberId, orderIdsOf(entries));
  return toCustomerLedgerEntry(await ctx.services.access.customerIds(), ownOrders);
}

/** The entry mapper for the caller and these entries: customers get {@link toCustomerLedgerEntry}. */
export async function ledgerEntryMapper(ctx: Context, memberId: string, entries: readonly EntryRecord[]): Promise<(e: EntryRecord) => LedgerEntryValue> {
  return ctx.identity.kind === 'customer' ? customerEntryMapper(ctx, memberId, entries) : toLedgerEntry;
}

/** `programId` rides along, unexposed, so money fields can find the point value. */
export type AccountValue = Omit<Account, 'availableMoney' | 'pendingMoney' | 'reservedMoney'> & { programId: string };

/** The account's id is its member's id (one account per member), so clients' caches can key it. */
export const toAccount = (a: AccountSnapshot, programId: string): AccountValue => ({ ...a, id: a.memberId, programId });

export const toLot = (l: LotRecord): Lot => ({ ...l, id: String(l.id), status: l.status as LotStatus });

/** A customer's view of a lot: its customer-facing id. */
export const toCustomerLot = (ids: CustomerIds, memberId: string) => (l: LotRecord): Lot => ({ ...toLot(l), id: ids.encode('lot', memberId, l.id) });

/** The rule and version a service record names, as the schema's rule reference. */
export const toRuleRef = (r: { ruleId: string; ruleName: string; version: number; ruleVersionId: string }) => ({
  id: r.ruleId, name: r.ruleName, version: r.version, versionId: r.ruleVersionId,
});

/** One rule's share of an award. */
export const toAwardPart = (p: AwardPart) => ({ rule: toRuleRef(p), points: p.points });

export const toAuthorization = (a: AuthorizationRecord): Authorization => ({ ...a });

/**
 * A page as a connection: each edge's cursor is `cursorOf` its row, as the list queries write
 * `endCursor` (`ledgerCursor`, src/services/ledger/ledger-queries.ts), or for a customer the row's
 * customer-facing id; every edge's cursor works as `after`, and the last one is `pageInfo.endCursor` (tested).
 */
export const toPage = <T, G>(page: Page<T & { id: number }>, map: (t: T & { id: number }) => G, cursorOf: (id: number) => string) => {
  const nodes = page.nodes.map(map);
  const last = page.nodes[page.nodes.length - 1];
  return {
    nodes,
    edges: page.nodes.map((row, i) => ({ cursor: cursorOf(row.id), node: nodes[i] })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? cursorOf(last.id) : null },
  };
};

const LIST_OF: Record<'entry' | 'lot', LedgerList> = { entry: 'entries', lot: 'lots' };

/** A customer's `after` (a customer-facing id of `kind`) as the list queries read cursors. */
export function fromCustomerCursor(ids: CustomerIds, kind: 'entry' | 'lot', memberId: string, after: string | null | undefined): string | null {
  if (after == null || after === '') return null;
  const serial = ids.decode(kind, memberId, after);
  if (serial == null) throw badInput('after is not a cursor from this list', { field: 'after' });
  return ledgerCursor(LIST_OF[kind], memberId, serial);
}

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
