import type { UnitOfWork } from '../../db/database';
import { entryPosted } from '../realtime/balance-events';
import { CauseType, EntryKind } from '../../entities/ledger-entry';
import { MemberStatus } from '../../entities/member';
import { NegativeBalancePolicy } from '../../entities/program';
import { ErrorCode, PatronError, notFound } from '../../errors';
import { memberRefColumn } from '../members';
import { pgArray } from '../shared';
import type { MemberRef } from '../shared';

/** Why an entry was written. */
export interface Cause {
  type: CauseType;
  id?: string | null;
  ruleVersionId?: string | null;
  reason?: string | null;
  idempotencyKey?: string | null;
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

/** An accrual's lot: what is left in it and what expired from it unused. */
export interface AccrualLot {
  id: number;
  remaining: number;
  expired: number;
  active: boolean;
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
interface LotChange {
  lotId: number;
  amount: number;
  forgiven?: number;
}

interface Posting {
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

export function toEntryRecord(row: Record<string, any>, memberId: string): EntryRecord {
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
    createdAt: new Date(row.created_at),
  };
}

/**
 * One member's account, locked for the rest of the caller's transaction. Every change is an
 * entry written together with its lot changes and the new cached balances in one statement,
 * so the row lock is held no longer than the SQL needs. Nothing here commits or publishes.
 */
export class AccountBook {
  /** Entries written through this book, in order (each is also emitted: the outbox publishes it after commit). */
  readonly written: EntryRecord[] = [];

  private constructor(
    private readonly tx: UnitOfWork,
    readonly state: AccountState,
    readonly policy: ProgramPolicy,
    readonly now: Date,
  ) {}

  /**
   * Locks the member's account (SELECT … FOR UPDATE) and brings it up to date: lots past
   * their expiry are expired and pending lots whose time has come become available.
   */
  static async open(tx: UnitOfWork, programId: string, member: MemberRef, now: Date): Promise<AccountBook> {
    const [column, value] = memberRefColumn(member);
    const [row] = await tx.execute(
      `select a.*, m.status as member_status, p.default_lifetime_days, p.pending_days, p.authorization_ttl_seconds,
         p.point_value_minor, p.currency, p.negative_balance_policy,
         exists (select 1 from lot l where l.account_id = a.id and l.remaining > 0 and l.expires_at <= ?) as has_overdue,
         exists (select 1 from lot l where l.account_id = a.id and l.remaining > 0
                   and l.activated_at is null and l.available_at <= ?) as has_due
       from member m join account a on a.member_id = m.id join program p on p.id = m.program_id
       where m.${column} = ? and m.program_id = ?
       for update of a`,
      [now, now, value, programId],
    );
    if (!row) throw notFound('Member', { member });
    const book = new AccountBook(tx, {
      id: row.id,
      programId: row.program_id,
      memberId: row.member_id,
      memberStatus: row.member_status,
      available: Number(row.available),
      pending: Number(row.pending),
      reserved: Number(row.reserved),
      debt: Number(row.debt),
      lifetimeEarned: Number(row.lifetime_earned),
      lifetimeRedeemed: Number(row.lifetime_redeemed),
      lifetimeExpired: Number(row.lifetime_expired),
    }, {
      defaultLifetimeDays: row.default_lifetime_days,
      pendingDays: row.pending_days,
      authorizationTtlSeconds: row.authorization_ttl_seconds,
      pointValueMinor: row.point_value_minor,
      currency: row.currency,
      negativeBalancePolicy: row.negative_balance_policy,
    }, now);
    if (row.has_overdue) await book.expireOverdueLots();
    if (row.has_due) await book.activateDueLots();
    // Points that became available while a debt was owed repay it first.
    await book.repayDebt(DEBT_REPAID);
    return book;
  }

  get balances(): Balances {
    return { available: this.state.available, pending: this.state.pending, reserved: this.state.reserved };
  }

  assertActive(): void {
    if (this.state.memberStatus === MemberStatus.FROZEN) {
      throw new PatronError(ErrorCode.ACCOUNT_FROZEN, 'The member is frozen and cannot spend points', {
        memberId: this.state.memberId,
      });
    }
  }

  /** Adds a lot; it is pending until `availableAt`. */
  async accrue(points: number, opts: { availableAt: Date; expiresAt: Date | null; cause: Cause; kind?: EntryKind }) {
    const activated = opts.availableAt.getTime() <= this.now.getTime();
    const entry = await this.post({
      kind: opts.kind ?? EntryKind.ACCRUAL,
      available: activated ? points : 0,
      pending: activated ? 0 : points,
      cause: opts.cause,
      newLot: { amount: points, availableAt: opts.availableAt, expiresAt: opts.expiresAt, activated },
      earned: points,
    });
    await this.repayDebt({ ...opts.cause, reason: 'Debt repaid from new points' });
    return entry;
  }

  /**
   * Several accruals, in their order: the same entries, lots and balances as {@link accrue} for
   * each one after the other, written in one statement. With a debt owed each accrual repays it
   * before the next is written, so then they are written one by one.
   */
  async accrueAll(
    accruals: ReadonlyArray<{ points: number; availableAt: Date; expiresAt: Date | null; cause: Cause; kind?: EntryKind }>,
  ): Promise<EntryRecord[]> {
    if (accruals.length <= 1 || this.state.debt > 0 || accruals.some((a) => !(a.points > 0))) {
      const entries: EntryRecord[] = [];
      for (const a of accruals) entries.push(await this.accrue(a.points, a));
      return entries;
    }
    const s = this.state;
    let { available, pending } = s;
    let earned = s.lifetimeEarned;
    const rows = accruals.map((a, i) => {
      const activated = a.availableAt.getTime() <= this.now.getTime();
      if (activated) available += a.points;
      else pending += a.points;
      earned += a.points;
      const c = a.cause;
      return {
        ord: i + 1,
        kind: a.kind ?? EntryKind.ACCRUAL,
        amount: a.points,
        delta_available: activated ? a.points : 0,
        delta_pending: activated ? 0 : a.points,
        available_after: available,
        pending_after: pending,
        cause_type: c.type,
        cause_id: c.id ?? null,
        rule_version_id: c.ruleVersionId ?? null,
        reason: c.reason ?? null,
        idempotency_key: c.idempotencyKey ?? null,
        available_at: a.availableAt.toISOString(),
        activated_at: activated ? this.now.toISOString() : null,
        expires_at: a.expiresAt ? a.expiresAt.toISOString() : null,
      };
    });
    // Entries are inserted in the accruals' order, so their ids ascend in it; each lot joins its entry by that order.
    const written = await this.tx.execute(
      `with x as (
        select * from jsonb_to_recordset(?::jsonb) as x(ord int, kind entry_kind, amount bigint, delta_available bigint,
          delta_pending bigint, available_after bigint, pending_after bigint, cause_type cause_type, cause_id text,
          rule_version_id uuid, reason text, idempotency_key text, available_at timestamptz, activated_at timestamptz,
          expires_at timestamptz)
      ), e as (
        insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
          delta_debt, available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason,
          idempotency_key, reverses_entry_id, partly_reverses_entry_id, authorization_id, created_at)
        select ?, ?, x.kind, x.amount, x.delta_available, x.delta_pending, 0, 0, x.available_after, x.pending_after, ?,
          x.cause_type, x.cause_id, x.rule_version_id, x.reason, x.idempotency_key, null, null, null, ?
        from x order by x.ord
        returning *
      ), a as (
        update account set available = ?, pending = ?, lifetime_earned = ?, entry_count = entry_count + ?, updated_at = ?
        where id = ?
      ), n as (
        select e.*, row_number() over (order by e.id) as ord from e
      ), l as (
        insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
        select ?, ?, n.id, x.amount, x.amount, x.available_at, x.activated_at, x.expires_at, ? from n join x on x.ord = n.ord
        returning id, source_entry_id
      )
      select n.*, l.id as lot_id from n join l on l.source_entry_id = n.id order by n.id`,
      [
        JSON.stringify(rows), s.programId, s.id, s.reserved, this.now,
        available, pending, earned, rows.length, this.now, s.id,
        s.programId, s.id, this.now,
      ],
    );
    if (written.length !== rows.length) throw new Error(`accrueAll: wrote ${written.length} of ${rows.length} entries`);
    Object.assign(s, { available, pending, lifetimeEarned: earned });
    const entries = written.map((row) => toEntryRecord(row, s.memberId));
    await this.record(entries);
    return entries;
  }

  /**
   * Pays the account's debt from its available points, nearest-expiry lots first, in one
   * entry that lowers available and the debt alike (amount 0: the member's net points do not
   * change). Pending points repay it once they become available.
   */
  async repayDebt(cause: Cause): Promise<EntryRecord | null> {
    if (this.state.debt <= 0 || this.state.available <= 0) return null;
    return this.absorb(await repayDebts(this.tx, [this.state.id], this.now, cause));
  }

  /** Spends available points for good, nearest-expiry lots first. */
  async redeem(points: number, cause: Cause, kind: EntryKind = EntryKind.REDEMPTION) {
    const taken = await this.takeSpendable(points);
    return this.post({ kind, available: -points, cause, lotChanges: taken, redeemed: points });
  }

  /** Moves points from available to reserved, holding them in their lots for the authorization. */
  async hold(points: number, authorizationId: string, cause: Cause) {
    const taken = await this.takeSpendable(points);
    return this.post({
      kind: EntryKind.AUTHORIZATION,
      available: -points,
      reserved: points,
      cause,
      authorizationId,
      lotChanges: taken,
    });
  }

  /** Spends reserved points of an authorization. */
  async capture(points: number, authorizationId: string, cause: Cause) {
    return this.post({ kind: EntryKind.CAPTURE, reserved: -points, cause, authorizationId, redeemed: points });
  }

  /** Returns reserved points of an authorization to available, into the lots they came from. */
  async release(points: number, authorizationId: string, cause: Cause) {
    const restored = takeInOrder(await this.heldByAuthorization(authorizationId), points);
    const entry = await this.post({
      kind: EntryKind.RELEASE,
      available: points,
      reserved: -points,
      cause,
      authorizationId,
      lotChanges: restored,
    });
    await this.settle(restored, cause);
    return entry;
  }

  /**
   * Undoes an entry with a reversing one; each entry can be reversed once, and not after a
   * part of it was reversed. Taking back an accrual whose points were spent covers them from
   * the account's other available points; what those do not cover is refused by default, or
   * owed as debt, or forgiven (`shortfall`).
   */
  async reverse(entry: EntryRecord, cause: Cause, opts: { shortfall?: Shortfall } = {}) {
    this.checkOwnEntry(entry);
    await this.refuseIfReversed(entry, true);
    const base = { kind: EntryKind.REVERSAL, cause, reversesEntryId: entry.id, authorizationId: entry.authorizationId };
    let reversal: EntryRecord;
    let restored: LotChange[] = [];
    if (isCredit(entry)) {
      const lot = await this.accrualLot(entry);
      // What expired from the lot unused is not taken again: it stays earned, and expired.
      const points = entry.amount - lot.expired;
      const taken = await this.takeBackAccrual(entry, lot, points, opts.shortfall ?? 'refuse');
      reversal = await this.post({ ...base, ...taken, cause: withForgiven(cause, taken.forgiven), earned: -points });
    } else if (entry.amount < 0 && (entry.kind === EntryKind.REDEMPTION || entry.kind === EntryKind.ADJUSTMENT)) {
      restored = await this.allocationsOf([entry.id]);
      reversal = await this.post({ ...base, available: -entry.amount, lotChanges: restored, redeemed: entry.amount });
    } else if (entry.kind === EntryKind.CAPTURE && entry.authorizationId) {
      restored = await this.heldByAuthorization(entry.authorizationId);
      const points = restored.reduce((s, c) => s + c.amount, 0);
      reversal = await this.post({ ...base, available: points, lotChanges: restored, redeemed: -points });
    } else {
      throw new PatronError(ErrorCode.NOT_REVERSIBLE, `A ${entry.kind} entry cannot be reversed`, {
        entryId: entry.id,
      });
    }
    await this.settle(restored, cause);
    return reversal;
  }

  /**
   * Undoes `points` of an accrual (takes them back: from its own lot first, then as
   * {@link reverse} does) or of a capture (gives them back to the lots they came from, latest
   * expiry first), for the returned part of an order. The entry names the original in
   * `partlyReversesEntryId`; the caller keeps the parts within the original.
   */
  async reversePart(entry: EntryRecord, points: number, cause: Cause, opts: { shortfall?: Shortfall } = {}) {
    this.checkOwnEntry(entry);
    if (!Number.isSafeInteger(points) || points < 1 || points > Math.abs(entry.amount)) {
      throw new PatronError(ErrorCode.INVALID_STATE, `Cannot reverse ${points} points of a ${entry.amount} point entry`, {
        entryId: entry.id,
      });
    }
    await this.refuseIfReversed(entry, false);
    const base = { kind: EntryKind.REVERSAL, partlyReversesEntryId: entry.id, authorizationId: entry.authorizationId };
    let reversal: EntryRecord;
    let restored: LotChange[] = [];
    if (isCredit(entry)) {
      const taken = await this.takeBackAccrual(entry, await this.accrualLot(entry), points, opts.shortfall ?? 'refuse');
      reversal = await this.post({ ...base, ...taken, cause: withForgiven(cause, taken.forgiven), earned: -points });
    } else if (entry.kind === EntryKind.CAPTURE && entry.authorizationId) {
      restored = takeInOrder(await this.heldByAuthorization(entry.authorizationId), points);
      reversal = await this.post({ ...base, cause, available: points, lotChanges: restored, redeemed: -points });
    } else {
      throw new PatronError(ErrorCode.NOT_REVERSIBLE, `A ${entry.kind} entry cannot be reversed in part`, { entryId: entry.id });
    }
    await this.settle(restored, cause);
    return reversal;
  }

  /** The lot an accrual created: what it still holds and what expired from it unused. */
  async accrualLot(entry: EntryRecord): Promise<AccrualLot> {
    const [lot] = await this.tx.execute(
      `select l.id, l.remaining, l.activated_at is not null as active,
         coalesce((select -sum(la.amount) from lot_allocation la join ledger_entry e on e.id = la.entry_id
                   where la.lot_id = l.id and e.kind = 'expiry'), 0) as expired
       from lot l where l.source_entry_id = ? and l.account_id = ?`,
      [entry.id, this.state.id],
    );
    if (!lot) throw notFound('Lot of the entry', { entryId: entry.id });
    return { id: Number(lot.id), remaining: Number(lot.remaining), expired: Number(lot.expired), active: lot.active };
  }

  private checkOwnEntry(entry: EntryRecord): void {
    if (entry.accountId !== this.state.id) throw notFound('Ledger entry', { entryId: entry.id });
  }

  /** A whole reversal also refuses an entry reversed in part before: those parts would be undone twice. */
  private async refuseIfReversed(entry: EntryRecord, includingParts: boolean): Promise<void> {
    const [done] = await this.tx.execute(
      `select id, reverses_entry_id is null as partial from ledger_entry
       where reverses_entry_id = ? ${includingParts ? 'or partly_reverses_entry_id = ?' : ''}
       order by reverses_entry_id nulls last limit 1`,
      includingParts ? [entry.id, entry.id] : [entry.id],
    );
    if (!done) return;
    throw new PatronError(
      ErrorCode.ALREADY_REVERSED,
      done.partial ? 'Part of this entry was already reversed; it cannot be reversed whole' : 'This entry was already reversed',
      { entryId: entry.id, reversalId: Number(done.id) },
    );
  }

  /** Posts one expiry entry for every lot of this account past its expiry. */
  async expireOverdueLots(): Promise<EntryRecord | null> {
    return this.absorb(await sweepLots(this.tx, EXPIRY, { accountIds: [this.state.id], asOf: this.now }));
  }

  /** Makes pending lots whose time has come available, in one activation entry. */
  async activateDueLots(): Promise<EntryRecord | null> {
    return this.absorb(await sweepLots(this.tx, ACTIVATION, { accountIds: [this.state.id], asOf: this.now }));
  }

  /**
   * After points came back to lots (a release, a reversed capture or redemption): what a
   * take-back forgave in those lots is taken again, lots past their expiry expire, and the
   * account's debt is repaid, all before the caller sees the balances.
   */
  private async settle(returned: LotChange[], cause: Cause): Promise<void> {
    await this.reclaimForgiven(returned, cause);
    await this.expireOverdueLots();
    await this.repayDebt({ ...cause, reason: 'Debt repaid from points given back' });
  }

  /**
   * Points forgiven when a lot's accrual was taken back were forgiven because they were spent
   * or held; when they come back to the lot, the take-back gets them after all. One entry per
   * lot, naming the accrual it finishes taking back.
   */
  private async reclaimForgiven(returned: LotChange[], cause: Cause): Promise<void> {
    const back = new Map(returned.filter((c) => c.amount > 0).map((c) => [c.lotId, c.amount]));
    if (back.size === 0) return;
    const lots = await this.tx.execute(
      'select id, source_entry_id, forgiven from lot where id = any(?::bigint[]) and forgiven > 0 order by id',
      [pgArray([...back.keys()])],
    );
    for (const lot of lots) {
      const points = Math.min(Number(lot.forgiven), back.get(Number(lot.id))!);
      await this.post({
        kind: EntryKind.REVERSAL,
        available: -points,
        cause: { ...cause, reason: `Taken back: ${points} points of entry ${lot.source_entry_id}, forgiven while spent or reserved, came back` },
        partlyReversesEntryId: Number(lot.source_entry_id),
        lotChanges: [{ lotId: Number(lot.id), amount: -points, forgiven: -points }],
      });
    }
  }

  /** Spendable lots, nearest expiry first, until `points` are covered; never an expired or pending lot. */
  private async takeSpendable(points: number, excludeLotId: number | null = null): Promise<LotChange[]> {
    let taken: LotChange[] = [];
    if (points <= this.state.available) {
      // Most spends are covered by the first few lots: walk the index that far, and the rest only when needed.
      const params = [points, this.state.id, this.now, excludeLotId];
      const first = await this.tx.execute(FIRST_SPENDABLE_LOTS, [...params, FIRST_LOTS, points]);
      const rows = first.length === FIRST_LOTS && covers(first) < points
        ? await this.tx.execute(
            `select id, least(remaining, ? - before) as take from (${SPENDABLE_LOTS}) lots where before < ? order by before`,
            [points, pgArray([this.state.id]), this.now, excludeLotId, points],
          )
        : first;
      taken = rows.map((r: any) => ({ lotId: Number(r.id), amount: -Number(r.take) }));
    }
    if (taken.reduce((s, c) => s - c.amount, 0) < points) {
      throw new PatronError(ErrorCode.INSUFFICIENT_POINTS, `Not enough points: ${points} asked, ${this.state.available} available`, {
        requested: points,
        available: this.state.available,
      });
    }
    return taken;
  }

  /** Keeps the entries for the caller and emits each one: the domain hooks see it now, subscribers after commit. */
  private async record(entries: readonly EntryRecord[]): Promise<void> {
    for (const entry of entries) {
      this.written.push(entry);
      await this.tx.emit(entryPosted(entry));
    }
  }

  /** Takes the state after a set-based statement on this account; returns the entry it wrote, if any. */
  private async absorb(outcome: SweepOutcome): Promise<EntryRecord | null> {
    let last: EntryRecord | null = null;
    for (const entry of outcome.entries) {
      const totals = outcome.totals.get(entry.accountId)!;
      Object.assign(this.state, {
        available: entry.available,
        pending: entry.pending,
        reserved: entry.reserved,
        debt: totals.debt,
        lifetimeExpired: totals.lifetimeExpired,
      });
      last = entry;
    }
    await this.record(outcome.entries);
    return last;
  }

  /** Points an authorization still holds, per lot, latest expiry first (released first). */
  private async heldByAuthorization(authorizationId: string): Promise<LotChange[]> {
    const rows = await this.tx.execute(
      `select la.lot_id, -sum(la.amount) as held
       from lot_allocation la
       join ledger_entry e on e.id = la.entry_id
       join lot l on l.id = la.lot_id
       where e.account_id = ? and e.authorization_id = ?
       group by la.lot_id, l.expires_at
       having sum(la.amount) < 0
       order by l.expires_at desc nulls first, la.lot_id desc`,
      [this.state.id, authorizationId],
    );
    return rows.map((r: any) => ({ lotId: Number(r.lot_id), amount: Number(r.held) }));
  }

  /** What the given entries took from lots, turned into changes that give it back. */
  private async allocationsOf(entryIds: number[]): Promise<LotChange[]> {
    const rows = await this.tx.execute(
      `select lot_id, -sum(amount) as amount from lot_allocation where entry_id = any(?::bigint[])
       group by lot_id having sum(amount) <> 0 order by lot_id`,
      [pgArray(entryIds)],
    );
    return rows.map((r: any) => ({ lotId: Number(r.lot_id), amount: Number(r.amount) }));
  }

  /**
   * Taking back `points` of an accrual: what its lot still holds leaves first; the rest was
   * spent, is held by an authorization, or repaid a debt, and comes from the account's other
   * available points. What those do not cover is the shortfall: refused, owed as debt, or
   * forgiven. Forgiven points are noted on the lot: should they come back to it (a released
   * hold, a reversed capture), {@link reclaimForgiven} takes them.
   */
  private async takeBackAccrual(
    entry: EntryRecord,
    lot: AccrualLot,
    points: number,
    shortfall: Shortfall,
  ): Promise<Pick<Posting, 'available' | 'pending' | 'debt' | 'lotChanges'> & { forgiven: number }> {
    const fromLot = Math.min(points, lot.remaining);
    const fromLotAvailable = lot.active ? fromLot : 0;
    const rest = points - fromLot;
    const othersAvailable = this.state.available - fromLotAvailable;
    const covered = Math.min(rest, othersAvailable);
    const missing = rest - covered;
    if (missing > 0 && shortfall === 'refuse') {
      throw new PatronError(
        ErrorCode.INSUFFICIENT_POINTS,
        `${rest} of the ${entry.amount} points were already spent or are reserved, and only ${othersAvailable} are available to take back`,
        { entryId: entry.id, requested: rest, available: othersAvailable },
      );
    }
    const forgiven = shortfall === 'forgive' ? missing : 0;
    // The entry's own lot is left out: its remainder is already taken above.
    const others = covered > 0 ? await this.takeSpendable(covered, lot.id) : [];
    return {
      available: -fromLotAvailable - covered,
      pending: -(fromLot - fromLotAvailable),
      debt: shortfall === 'debt' ? missing : 0,
      forgiven,
      lotChanges: [{ lotId: lot.id, amount: -fromLot, forgiven }, ...others],
    };
  }

  private async post(p: Posting): Promise<EntryRecord> {
    const s = this.state;
    const d = { available: p.available ?? 0, pending: p.pending ?? 0, reserved: p.reserved ?? 0, debt: p.debt ?? 0 };
    const next = {
      available: s.available + d.available,
      pending: s.pending + d.pending,
      reserved: s.reserved + d.reserved,
      debt: s.debt + d.debt,
    };
    if (next.available < 0 || next.pending < 0 || next.reserved < 0 || next.debt < 0) {
      throw new PatronError(ErrorCode.INSUFFICIENT_POINTS, 'Not enough points for this operation', {
        available: s.available,
      });
    }
    const lifetime = {
      earned: s.lifetimeEarned + (p.earned ?? 0),
      redeemed: s.lifetimeRedeemed + (p.redeemed ?? 0),
    };
    const c = p.cause;
    // The amount is the change of the member's net points: what they hold minus what they owe.
    const amount = d.available + d.pending + d.reserved - d.debt;
    const params: unknown[] = [
      s.programId, s.id, p.kind, amount, d.available, d.pending, d.reserved, d.debt,
      next.available, next.pending, next.reserved, c.type, c.id ?? null, c.ruleVersionId ?? null, c.reason ?? null,
      c.idempotencyKey ?? null, p.reversesEntryId ?? null, p.partlyReversesEntryId ?? null, p.authorizationId ?? null, this.now,
      next.available, next.pending, next.reserved, next.debt, lifetime.earned, lifetime.redeemed, this.now, s.id,
    ];
    const parts = [
      `with e as (
        insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
          delta_debt, available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason,
          idempotency_key, reverses_entry_id, partly_reverses_entry_id, authorization_id, created_at)
        values (?, ?, ?::entry_kind, ?, ?, ?, ?, ?, ?, ?, ?, ?::cause_type, ?, ?::uuid, ?, ?, ?::bigint, ?::bigint, ?::uuid, ?)
        returning *
      ), a as (
        update account set available = ?, pending = ?, reserved = ?, debt = ?, lifetime_earned = ?, lifetime_redeemed = ?,
          entry_count = entry_count + 1, updated_at = ? where id = ?
      )`,
    ];
    let lotColumn = 'null::bigint as lot_id';
    if (p.newLot) {
      const l = p.newLot;
      parts.push(`, l as (
        insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
        select ?, ?, e.id, ?, ?, ?, ?, ?, ? from e returning id
      )`);
      params.push(s.programId, s.id, l.amount, l.amount, l.availableAt, l.activated ? this.now : null, l.expiresAt, this.now);
      lotColumn = '(select id from l) as lot_id';
    }
    const changes = (p.lotChanges ?? []).filter((ch) => ch.amount !== 0 || ch.forgiven);
    if (changes.length > 0) {
      // One update per lot: a statement must not update a row twice.
      parts.push(`, ch as (
        select * from unnest(?::bigint[], ?::bigint[], ?::bigint[]) as ch(lot_id, amount, forgiven)
      ), al as (
        insert into lot_allocation (entry_id, lot_id, amount)
        select e.id, ch.lot_id, ch.amount from e, ch where ch.amount <> 0
      ), lu as (
        update lot set remaining = lot.remaining + ch.amount, forgiven = lot.forgiven + ch.forgiven
        from ch where lot.id = ch.lot_id
      )`);
      params.push(
        pgArray(changes.map((ch) => ch.lotId)),
        pgArray(changes.map((ch) => ch.amount)),
        pgArray(changes.map((ch) => ch.forgiven ?? 0)),
      );
    }
    parts.push(`select e.*, ${lotColumn} from e`);
    const [row] = await this.tx.execute(parts.join('\n'), params);
    Object.assign(s, next, { lifetimeEarned: lifetime.earned, lifetimeRedeemed: lifetime.redeemed });
    const entry = toEntryRecord(row, s.memberId);
    await this.record([entry]);
    return entry;
  }
}

/** Takes `points` from the changes in their order, cutting the last one short. */
function takeInOrder(changes: LotChange[], points: number): LotChange[] {
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
function isCredit(entry: EntryRecord): boolean {
  return entry.amount > 0 && (entry.kind === EntryKind.ACCRUAL || entry.kind === EntryKind.ADJUSTMENT);
}

/** Forgiven points leave no trace in the balances, so the reversal's reason says how many. */
function withForgiven(cause: Cause, forgiven: number): Cause {
  if (forgiven <= 0) return cause;
  const note = `${forgiven} already spent points forgiven`;
  return { ...cause, reason: cause.reason ? `${cause.reason} (${note})` : note };
}

// ---------------------------------------------------------------------------------------------
// Set-based statements over locked accounts: a book runs them for its own account, the jobs for
// a batch of accounts, so expiry, activation and debt repayment are written one way only. Each
// reads the lots under the callers' account locks (a writer may have moved some meanwhile), and
// writes per account one entry whose *_after values come from the updated account row, the lots'
// allocations and the lots themselves.

/** Which lots a statement may touch: an id range (the jobs' batches), or all of them. */
export interface SweepScope {
  /** Accounts the caller has locked; no other account is touched. */
  accountIds: string[];
  asOf: Date;
  lotIds?: { from: number; to: number };
}

export interface SweepOutcome {
  entries: EntryRecord[];
  /** Lots the statement changed. */
  lots: number;
  /** Each changed account's debt and lifetime expired right after (its balances are in its entry). */
  totals: Map<string, { debt: number; lifetimeExpired: number }>;
}

/**
 * A pass over the lots that are due. `due` is the condition on `lot l` (its one `?` is asOf); it
 * matches a partial index of the lot table, by which the jobs find due lots across all accounts.
 */
export interface LotSweep {
  due: string;
  sql: string;
}

const ALL_LOTS = { from: 1, to: Number.MAX_SAFE_INTEGER };

/** Lots past their expiry give up their remainder: available or pending, into lifetime expired. */
const DUE_FOR_EXPIRY = 'l.remaining > 0 and l.expires_at <= ?';
export const EXPIRY: LotSweep = {
  due: DUE_FOR_EXPIRY,
  sql: `
with due as (
  select l.id, l.account_id, l.remaining, l.activated_at is not null as active
  from lot l
  where l.id between ? and ? and ${DUE_FOR_EXPIRY} and l.account_id = any(?::uuid[])
), per_account as (
  select account_id,
    coalesce(sum(remaining) filter (where active), 0) as from_available,
    coalesce(sum(remaining) filter (where not active), 0) as from_pending
  from due group by account_id
), acc as (
  update account a set
    available = a.available - p.from_available,
    pending = a.pending - p.from_pending,
    lifetime_expired = a.lifetime_expired + p.from_available + p.from_pending,
    entry_count = a.entry_count + 1,
    updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.member_id, a.available, a.pending, a.reserved, a.debt, a.lifetime_expired,
    p.from_available, p.from_pending
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
  select program_id, id, 'expiry'::entry_kind, -(from_available + from_pending), -from_available, -from_pending, 0,
    available, pending, reserved, 'job'::cause_type, 'expire-lots', 'Points expired', ?
  from acc order by id
  returning *
), allocated as (
  insert into lot_allocation (entry_id, lot_id, amount)
  select e.id, due.id, -due.remaining from due join e on e.account_id = due.account_id
), emptied as (
  update lot set remaining = 0 from due where lot.id = due.id
)
select e.*, acc.member_id, acc.debt, acc.lifetime_expired, (select count(*) from due) as lot_count
from e join acc on acc.id = e.account_id order by e.id`,
};

/** Pending lots whose availableAt has come become available (activated as of their availableAt). */
const DUE_FOR_ACTIVATION = 'l.remaining > 0 and l.activated_at is null and l.available_at <= ?';
export const ACTIVATION: LotSweep = {
  due: DUE_FOR_ACTIVATION,
  sql: `
with due as (
  select l.id, l.account_id, l.remaining
  from lot l
  where l.id between ? and ? and ${DUE_FOR_ACTIVATION} and l.account_id = any(?::uuid[])
), per_account as (
  select account_id, sum(remaining) as points from due group by account_id
), acc as (
  update account a set
    available = a.available + p.points,
    pending = a.pending - p.points,
    entry_count = a.entry_count + 1,
    updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.member_id, a.available, a.pending, a.reserved, a.debt, a.lifetime_expired, p.points
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
  select program_id, id, 'activation'::entry_kind, 0, points, -points, 0,
    available, pending, reserved, 'job'::cause_type, 'activate-lots', 'Pending points became available', ?
  from acc order by id
  returning *
), activated as (
  update lot set activated_at = lot.available_at from due where lot.id = due.id
)
select e.*, acc.member_id, acc.debt, acc.lifetime_expired, (select count(*) from due) as lot_count
from e join acc on acc.id = e.account_id order by e.id`,
};

/** Runs a sweep over the due lots of the given (locked) accounts. */
export async function sweepLots(tx: UnitOfWork, sweep: LotSweep, scope: SweepScope): Promise<SweepOutcome> {
  if (scope.accountIds.length === 0) return { entries: [], lots: 0, totals: new Map() };
  const { from, to } = scope.lotIds ?? ALL_LOTS;
  const rows = await tx.execute(sweep.sql, [from, to, scope.asOf, pgArray(scope.accountIds), scope.asOf, scope.asOf]);
  return sweepOutcome(rows);
}

/**
 * The spendable lots of some accounts (active, not past the `?` moment, all but an optional
 * lot), nearest expiry first, each with `before`: the points of the account's lots ahead of it.
 * Taking `least(remaining, wanted - before)` from the lots `where before < wanted` covers `wanted`.
 */
const SPENDABLE_LOTS = `
  select l.id, l.account_id, l.remaining,
    (sum(l.remaining) over (partition by l.account_id order by l.expires_at nulls last, l.id) - l.remaining)::bigint as before
  from lot l
  where l.account_id = any(?::uuid[]) and l.remaining > 0 and l.activated_at is not null
    and (l.expires_at is null or l.expires_at > ?) and l.id is distinct from ?::bigint`;

/** How many lots a spend reads before it falls back to all of an account's lots. */
const FIRST_LOTS = 50;

/** SPENDABLE_LOTS for one account, bounded to its first lots in spending order (an index range). */
const FIRST_SPENDABLE_LOTS = `
  select id, least(remaining, ? - before) as take from (
    select id, remaining, (sum(remaining) over (order by expires_at nulls last, id) - remaining)::bigint as before
    from (
      select l.id, l.remaining, l.expires_at from lot l
      where l.account_id = ? and l.remaining > 0 and l.activated_at is not null
        and (l.expires_at is null or l.expires_at > ?) and l.id is distinct from ?::bigint
      order by l.expires_at nulls last, l.id limit ?
    ) first_lots
  ) lots where before < ? order by before`;

const covers = (rows: Array<{ take: unknown }>) => rows.reduce((sum, r) => sum + Number(r.take), 0);

const REPAY_DEBTS_SQL = `
with lots as (${SPENDABLE_LOTS}
), taken as (
  select lots.id, lots.account_id, least(lots.remaining, a.debt - lots.before) as amount
  from lots join account a on a.id = lots.account_id where lots.before < a.debt
), per_account as (
  select account_id, sum(amount)::bigint as points from taken group by account_id
), acc as (
  update account a set available = a.available - p.points, debt = a.debt - p.points,
    entry_count = a.entry_count + 1, updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.member_id, a.available, a.pending, a.reserved, a.debt, a.lifetime_expired, p.points
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved, delta_debt,
    available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason, idempotency_key, created_at)
  select program_id, id, 'debt_repayment'::entry_kind, 0, -points, 0, 0, -points,
    available, pending, reserved, ?::cause_type, ?, ?::uuid, ?, ?, ?
  from acc order by id
  returning *
), allocated as (
  insert into lot_allocation (entry_id, lot_id, amount)
  select e.id, taken.id, -taken.amount from taken join e on e.account_id = taken.account_id
), emptied as (
  update lot set remaining = lot.remaining - taken.amount from taken where lot.id = taken.id
)
select e.*, acc.member_id, acc.debt, acc.lifetime_expired, (select count(*) from taken) as lot_count
from e join acc on acc.id = e.account_id order by e.id`;

/**
 * Pays the debts of the given (locked) accounts from their spendable points, nearest-expiry
 * lots first: per account one entry that lowers available and the debt alike (amount 0: the
 * member's net points do not change). Pending points repay it once they become available.
 */
export async function repayDebts(tx: UnitOfWork, accountIds: string[], asOf: Date, cause: Cause): Promise<SweepOutcome> {
  if (accountIds.length === 0) return { entries: [], lots: 0, totals: new Map() };
  const rows = await tx.execute(REPAY_DEBTS_SQL, [
    pgArray(accountIds), asOf, null, asOf,
    cause.type, cause.id ?? null, cause.ruleVersionId ?? null, cause.reason ?? null, cause.idempotencyKey ?? null, asOf,
  ]);
  return sweepOutcome(rows);
}

function sweepOutcome(rows: any[]): SweepOutcome {
  return {
    entries: rows.map((row) => toEntryRecord(row, row.member_id)),
    lots: rows.length > 0 ? Number(rows[0].lot_count) : 0,
    totals: new Map(rows.map((row) => [row.account_id, { debt: Number(row.debt), lifetimeExpired: Number(row.lifetime_expired) }])),
  };
}
