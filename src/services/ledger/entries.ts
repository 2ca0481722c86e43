/** What the ledger writes and reads: entries, their causes, balances, and an account's state under its lock. */
import { CauseType, EntryKind } from '../../entities/ledger-entry';
import type { MemberStatus } from '../../entities/member';
import { NegativeBalancePolicy } from '../../entities/program';
import { ErrorCode, PatronError } from '../../errors';
import type { EntryRow } from './book-store';

/** Why an entry was written. */
export interface Cause {
  type: CauseType;
  id?: string | null;
  ruleVersionId?: string | null;
  reason?: string | null;
  idempotencyKey?: string | null;
  /** What owns the entry ('order' and the shop's order id): it is undone only through its owner. */
  owner?: { type: 'order'; id: string } | null;
}

export interface Balances {
  available: number;
  pending: number;
  reserved: number;
}

export interface EntryRecord extends Balances {
  id: number;
  programId: string;
  accountId: string;
  memberId: string;
  kind: EntryKind;
  amount: number;
  deltaAvailable: number;
  deltaPending: number;
  deltaReserved: number;
  /** Change of the account's debt: + when points taken back were already spent, − when repaid. */
  deltaDebt: number;
  causeType: CauseType;
  causeId: string | null;
  ruleVersionId: string | null;
  reason: string | null;
  idempotencyKey: string | null;
  reversesEntryId: number | null;
  /** The entry this one undoes a part of (an order's returned lines). */
  partlyReversesEntryId: number | null;
  authorizationId: string | null;
  /** The lot an accrual created. */
  lotId: number | null;
  /** What owns the entry: undone only through it (an order: cancelOrder, refundOrderLines). */
  ownerType: string | null;
  ownerId: string | null;
  createdAt: Date;
}

/** The program settings a ledger write needs, read with the account lock. */
export interface ProgramPolicy {
  defaultLifetimeDays: number | null;
  pendingDays: number;
  authorizationTtlSeconds: number;
  pointValueMinor: number;
  currency: string;
  negativeBalancePolicy: NegativeBalancePolicy;
}

/**
 * What to do when points to take back were already spent and the account's other available
 * points do not cover them: refuse (INSUFFICIENT_POINTS), record the rest as debt that later
 * points repay first, or forgive the rest.
 */
export type Shortfall = 'refuse' | 'debt' | 'forgive';

/** The shortfall an order's take-back uses under the program's policy. */
export const shortfallUnder = (policy: NegativeBalancePolicy): Shortfall =>
  policy === NegativeBalancePolicy.ALLOW_DEBT ? 'debt' : 'forgive';

/** One lot of an accrual: what is left in it, what expired from it unused, and what it may still forgive. */
export interface AccrualLot {
  id: number;
  remaining: number;
  expired: number;
  active: boolean;
  forgiven: number;
  /** Points others took from the lot (spent, held, repaid a debt): a take-back may forgive up to this, less `forgiven`. */
  spentElsewhere: number;
}

/** The lots an accrual created (one per lifetime of its parts), nearest expiry first, and their totals. */
export interface AccrualLots {
  lots: AccrualLot[];
  remaining: number;
  expired: number;
}


export interface AccountState extends Balances {
  id: string;
  programId: string;
  memberId: string;
  memberStatus: MemberStatus;
  /** Points taken back after they were spent, owed until later points repay them (>= 0). */
  debt: number;
  lifetimeEarned: number;
  lifetimeRedeemed: number;
  lifetimeExpired: number;
}

/** Points moved to (+) or from (−) a lot by one entry, and the change of what the lot has forgiven. */
export interface LotChange {
  lotId: number;
  amount: number;
  forgiven?: number;
}

export interface Posting {
  kind: EntryKind;
  available?: number;
  pending?: number;
  reserved?: number;
  debt?: number;
  cause: Cause;
  reversesEntryId?: number | null;
  partlyReversesEntryId?: number | null;
  authorizationId?: string | null;
  newLot?: { amount: number; availableAt: Date; expiresAt: Date | null; activated: boolean };
  lotChanges?: LotChange[];
  earned?: number;
  redeemed?: number;
}

/** The cause of the debt repayments that opening a book (or a job) makes. */
export const DEBT_REPAID: Cause = { type: CauseType.JOB, id: 'repay-debt', reason: 'Debt repaid from available points' };

export function toEntryRecord(row: EntryRow, memberId: string): EntryRecord {
  return {
    id: Number(row.id),
    programId: row.program_id,
    accountId: row.account_id,
    memberId,
    kind: row.kind,
    amount: Number(row.amount),
    deltaAvailable: Number(row.delta_available),
    deltaPending: Number(row.delta_pending),
    deltaReserved: Number(row.delta_reserved),
    deltaDebt: Number(row.delta_debt ?? 0),
    available: Number(row.available_after),
    pending: Number(row.pending_after),
    reserved: Number(row.reserved_after),
    causeType: row.cause_type,
    causeId: row.cause_id,
    ruleVersionId: row.rule_version_id,
    reason: row.reason,
    idempotencyKey: row.idempotency_key,
    reversesEntryId: row.reverses_entry_id == null ? null : Number(row.reverses_entry_id),
    partlyReversesEntryId: row.partly_reverses_entry_id == null ? null : Number(row.partly_reverses_entry_id),
    authorizationId: row.authorization_id,
    lotId: row.lot_id == null ? null : Number(row.lot_id),
    ownerType: row.owner_type ?? null,
    ownerId: row.owner_id ?? null,
    createdAt: new Date(row.created_at),
  };
}

/** Takes `points` from the changes in their order, cutting the last one short. */
export function takeInOrder(changes: LotChange[], points: number): LotChange[] {
  const out: LotChange[] = [];
  let missing = points;
  for (const ch of changes) {
    if (missing === 0) break;
    const take = Math.min(missing, ch.amount);
    out.push({ lotId: ch.lotId, amount: take });
    missing -= take;
  }
  if (missing > 0) throw new PatronError(ErrorCode.INVALID_STATE, 'The authorization holds fewer points than asked');
  return out;
}

/** An entry that credited points: reversing it takes them back. */
export function isCredit(entry: EntryRecord): boolean {
  return entry.amount > 0 && (entry.kind === EntryKind.ACCRUAL || entry.kind === EntryKind.ADJUSTMENT);
}

/** Forgiven points leave no trace in the balances, so the reversal's reason says how many. */
export function withForgiven(cause: Cause, forgiven: number): Cause {
  if (forgiven <= 0) return cause;
  const note = `${forgiven} already spent points forgiven`;
  return { ...cause, reason: cause.reason ? `${cause.reason} (${note})` : note };
}
