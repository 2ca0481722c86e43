import type { UnitOfWork } from '../../db/database';
import { entryPosted } from './ledger-events';
import { EntryKind } from '../../entities/ledger-entry';
import { MemberStatus } from '../../entities/member';
import { ErrorCode, PatronError, apiEntryId, notFound } from '../../errors';
import { memberLookup, memberRefColumn, type MemberKey } from '../members';
import { pgArray, type MemberRef } from '../shared';
import { accrualRows, planAccrual, type NewAccrual, type PlannedAccrual } from './accruals';
import { lockStatementOf, type AccountLock } from './account-locks';
import * as store from './book-store';
import { planCoverReturns } from './cover-returns';
import { takeSpendable } from './spendable';
import { takeBackAccrual } from './take-back';
import { ACTIVATION, EXPIRY } from './sweep-store';
import { repayDebts, sweepLots, type SweepOutcome } from './sweeps';
import {
  DEBT_REPAID,
  isCredit,
  takeInOrder,
  toEntryRecord,
  withForgiven,
  type AccountState,
  type AccrualLots,
  type Balances,
  type Cause,
  type EntryRecord,
  type LotChange,
  type Posting,
  type ProgramPolicy,
  type Shortfall,
} from './entries';

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
  static open(tx: UnitOfWork, programId: string, member: MemberRef, now: Date): Promise<AccountBook> {
    // A phone is first read in the program's region; any other reference is locked before open
    // first awaits, so a statement sent right after the call runs under the lock (see lockOrder).
    if ('phone' in member) return memberLookup(tx, programId, member).then(([column, value]) => AccountBook.lockByColumn(tx, programId, member, column, value, now));
    const [column, value] = memberRefColumn(member);
    return AccountBook.lockByColumn(tx, programId, member, column, value, now);
  }

  /**
   * As `open`, for the member another module's SQL finds (see {@link accountLock}); `missing`
   * says what is not there when it finds none. The lock is sent before this first awaits.
   */
  static openFound<K extends readonly unknown[]>(
    tx: UnitOfWork, programId: string, lock: AccountLock<K>, key: K, now: Date, missing: () => Error,
  ): Promise<AccountBook> {
    return AccountBook.lock(tx, tx.run(lockStatementOf(lock, key), [now, now, ...key, programId]), now, missing);
  }

  private static lockByColumn(tx: UnitOfWork, programId: string, member: MemberRef, column: MemberKey, value: string, now: Date): Promise<AccountBook> {
    return AccountBook.lock(tx, tx.run(store.lockAccount[column], [now, now, value, programId]), now, () => notFound('Member', { member }));
  }

  private static async lock(tx: UnitOfWork, locked: Promise<store.LockedAccountRow[]>, now: Date, missing: () => Error): Promise<AccountBook> {
    const [row] = await locked;
    if (!row) throw missing();
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
   * Several accruals, in their order, each one entry whose parts may live differently: parts
   * with the same availability and expiry share a lot, the others get lots of their own. The
   * entries, lots, their rules' parts (rule_award rows, see {@link NewAccrual}) and balances are
   * written in one statement. With a debt owed each accrual repays it before the next is
   * written, as {@link accrue} does, so then they are written one by one.
   */
  async accrueAll(accruals: ReadonlyArray<NewAccrual>): Promise<EntryRecord[]> {
    const planned = accruals.map(planAccrual);
    if (planned.length === 1 && planned[0].lots.length === 1 && planned[0].rules.length === 0) {
      const [{ lots: [lot], cause, kind }] = planned;
      return [await this.accrue(lot.points, { ...lot, cause, kind })];
    }
    if (this.state.debt <= 0) return this.accrueMany(planned);
    const entries: EntryRecord[] = [];
    for (const accrual of planned) {
      entries.push(...(await this.accrueMany([accrual])));
      await this.repayDebt({ ...accrual.cause, reason: 'Debt repaid from new points' });
    }
    return entries;
  }

  private async accrueMany(accruals: ReadonlyArray<PlannedAccrual>): Promise<EntryRecord[]> {
    const s = this.state;
    const { rows, available, pending, earned } = accrualRows(accruals, s, this.now);
    // Entries are inserted in the accruals' order, so their ids ascend in it; each lot joins its entry by that order.
    const written = await this.tx.run(store.accrueMany, [
      JSON.stringify(rows), s.programId, s.id, s.reserved, this.now, available, pending, earned, rows.length, s.memberId,
    ]);
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
    const taken = await takeSpendable(this.tx, this.state, this.now, points);
    return this.post({ kind, available: -points, cause, lotChanges: taken, redeemed: points });
  }

  /** Moves points from available to reserved, holding them in their lots for the authorization. */
  async hold(points: number, authorizationId: string, cause: Cause) {
    const taken = await takeSpendable(this.tx, this.state, this.now, points);
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
      const lots = await this.accrualLot(entry);
      // What expired from its lots unused is not taken again: it stays earned, and expired.
      const points = entry.amount - lots.expired;
      const taken = await takeBackAccrual(this.tx, this.state, this.now, entry, lots, points, opts.shortfall ?? 'refuse');
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
        entryId: apiEntryId(entry.id),
      });
    }
    await this.settle(restored, cause);
    return reversal;
  }

  /**
   * Undoes `points` of an accrual (takes them back: from its own lots first, then as
   * {@link reverse} does) or of a capture (gives them back to the lots they came from, latest
   * expiry first), for the returned part of an order. The entry names the original in
   * `partlyReversesEntryId`; the caller keeps the parts within the original.
   */
  async reversePart(entry: EntryRecord, points: number, cause: Cause, opts: { shortfall?: Shortfall } = {}) {
    this.checkOwnEntry(entry);
    if (!Number.isSafeInteger(points) || points < 1 || points > Math.abs(entry.amount)) {
      throw new PatronError(ErrorCode.INVALID_STATE, `Cannot reverse ${points} points of a ${entry.amount} point entry`, {
        entryId: apiEntryId(entry.id),
      });
    }
    await this.refuseIfReversed(entry, false);
    const base = { kind: EntryKind.REVERSAL, partlyReversesEntryId: entry.id, authorizationId: entry.authorizationId };
    let reversal: EntryRecord;
    let restored: LotChange[] = [];
    if (isCredit(entry)) {
      const taken = await takeBackAccrual(this.tx, this.state, this.now, entry, await this.accrualLot(entry), points, opts.shortfall ?? 'refuse');
      reversal = await this.post({ ...base, ...taken, cause: withForgiven(cause, taken.forgiven), earned: -points });
    } else if (entry.kind === EntryKind.CAPTURE && entry.authorizationId) {
      restored = takeInOrder(await this.heldByAuthorization(entry.authorizationId), points);
      reversal = await this.post({ ...base, cause, available: points, lotChanges: restored, redeemed: -points });
    } else {
      throw new PatronError(ErrorCode.NOT_REVERSIBLE, `A ${entry.kind} entry cannot be reversed in part`, { entryId: apiEntryId(entry.id) });
    }
    await this.settle(restored, cause);
    return reversal;
  }

  /**
   * The lots an accrual created — one, or one per lifetime of its parts — nearest expiry first:
   * what they still hold and what expired from them unused.
   */
  async accrualLot(entry: EntryRecord): Promise<AccrualLots> {
    const rows = await this.tx.run(store.accrualLots, [entry.id, this.state.id]);
    if (rows.length === 0) throw notFound('Lot of the entry', { entryId: apiEntryId(entry.id) });
    const lots = rows.map((r) => ({
      id: Number(r.id),
      remaining: Number(r.remaining),
      expired: Number(r.expired),
      active: r.active,
      forgiven: Number(r.forgiven),
      spentElsewhere: Number(r.spent_elsewhere),
    }));
    return { lots, remaining: lots.reduce((sum, l) => sum + l.remaining, 0), expired: lots.reduce((sum, l) => sum + l.expired, 0) };
  }

  private checkOwnEntry(entry: EntryRecord): void {
    if (entry.accountId !== this.state.id) throw notFound('Ledger entry', { entryId: apiEntryId(entry.id) });
  }

  /** A whole reversal also refuses an entry reversed in part before: those parts would be undone twice. */
  private async refuseIfReversed(entry: EntryRecord, includingParts: boolean): Promise<void> {
    const [done] = await this.tx.run(store.reversalOf, [entry.id, includingParts]);
    if (!done) return;
    throw new PatronError(
      ErrorCode.ALREADY_REVERSED,
      done.partial ? 'Part of this entry was already reversed; it cannot be reversed whole' : 'This entry was already reversed',
      { entryId: apiEntryId(entry.id), reversalId: apiEntryId(done.id) },
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
   * take-back forgave in those lots is taken again, what a take-back covered for them goes back
   * where it came from, lots past their expiry expire, and the account's debt is repaid, all
   * before the caller sees the balances.
   */
  private async settle(returned: LotChange[], cause: Cause): Promise<void> {
    // Cover given back lands in other lots, which may owe in turn (forgiven points, a cover of
    // their own): follow the points until nothing moves. Each round gives back cover still owed,
    // which only shrinks, so it ends.
    let moving = returned;
    for (let round = 0; moving.length > 0; round++) {
      if (round === MAX_SETTLE_ROUNDS) throw new Error(`settle: points still moving after ${MAX_SETTLE_ROUNDS} rounds`);
      moving = await this.returnCover(await this.reclaimForgiven(moving, cause), cause);
    }
    await this.expireOverdueLots();
    await this.repayDebt({ ...cause, reason: 'Debt repaid from points given back' });
  }

  /**
   * Points forgiven when a lot's accrual was taken back were forgiven because they were spent
   * or held; when they come back to the lot, the take-back gets them after all. One entry per
   * lot, naming the accrual it finishes taking back. Returns the points that came back to each
   * lot and are still there.
   */
  private async reclaimForgiven(returned: LotChange[], cause: Cause): Promise<Map<number, number>> {
    // A lot may be named more than once (covers of two take-backs given back to it): its points add up.
    const back = new Map<number, number>();
    for (const c of returned) if (c.amount > 0) back.set(c.lotId, (back.get(c.lotId) ?? 0) + c.amount);
    if (back.size === 0) return back;
    const lots = await this.tx.run(store.forgivingLots, [pgArray([...back.keys()])]);
    for (const lot of lots) {
      const points = Math.min(Number(lot.forgiven), back.get(Number(lot.id))!);
      back.set(Number(lot.id), back.get(Number(lot.id))! - points);
      await this.post({
        kind: EntryKind.REVERSAL,
        available: -points,
        // The entry names the accrual (partlyReversesEntryId); its reason names no entry, as customers read it too.
        cause: { ...cause, reason: `Taken back: ${points} points forgiven while spent or reserved came back` },
        partlyReversesEntryId: Number(lot.source_entry_id),
        lotChanges: [{ lotId: Number(lot.id), amount: -points, forgiven: -points }],
      });
    }
    return back;
  }

  /**
   * A take-back whose points were spent or held covered them from the member's other lots, or
   * booked them as debt (see take-back.ts). When those points come back to the accrual's lot
   * (the order they paid for is cancelled too), they are the member's again: they repay that debt and go back to the lots the cover came from, with those lots' lifetimes —
   * rather than staying in a lot whose accrual was taken back, to expire with it. One entry per
   * take-back, partly reversing it. Returns what it gave to other lots. (Debt repaid meanwhile
   * from other points is not owed any more: what came back for it stays in the lot.)
   */
  private async returnCover(back: Map<number, number>, cause: Cause): Promise<LotChange[]> {
    const lotIds = [...back].filter(([, points]) => points > 0).map(([lotId]) => lotId);
    if (lotIds.length === 0) return [];
    const rows = await this.tx.run(store.outstandingCover, [pgArray(lotIds)]);
    const given: LotChange[] = [];
    for (const r of planCoverReturns(back, rows, this.state.debt)) {
      given.push(...r.toLots);
      await this.post({
        kind: EntryKind.REVERSAL,
        available: -r.debt,
        debt: -r.debt,
        cause: { ...cause, reason: `Cover given back: ${r.given} points of a take-back came back${r.debt > 0 ? `, ${r.debt} of them repay its debt` : ''}` },
        partlyReversesEntryId: r.takebackId,
        lotChanges: [{ lotId: r.lotId, amount: -r.given }, ...r.toLots],
      });
    }
    return given;
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
    const rows = await this.tx.run(store.heldByAuthorization, [this.state.id, authorizationId]);
    return rows.map((r) => ({ lotId: Number(r.lot_id), amount: Number(r.held) }));
  }

  /** What the given entries took from lots, turned into changes that give it back. */
  private async allocationsOf(entryIds: number[]): Promise<LotChange[]> {
    const rows = await this.tx.run(store.allocationsOf, [pgArray(entryIds)]);
    return rows.map((r) => ({ lotId: Number(r.lot_id), amount: Number(r.amount) }));
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
    const l = p.newLot;
    // Lots whose remainder and forgiveness do not change are left out.
    const changes = (p.lotChanges ?? []).filter((ch) => ch.amount !== 0 || ch.forgiven);
    const entryParams: store.PostEntryParams = [
      s.programId, s.id, p.kind, amount, d.available, d.pending, d.reserved, d.debt,
      next.available, next.pending, next.reserved, c.type, c.id ?? null, c.ruleVersionId ?? null, c.reason ?? null,
      c.idempotencyKey ?? null, p.reversesEntryId ?? null, p.partlyReversesEntryId ?? null, p.authorizationId ?? null,
      c.owner?.type ?? null, c.owner?.id ?? null, this.now,
      next.debt, lifetime.earned, lifetime.redeemed,
    ];
    if (l && changes.length > 0) throw new Error('An entry creates a lot or changes lots, not both');
    const [row] = l
      ? await this.tx.run(store.postEntry.newLot, [...entryParams, l.amount, l.availableAt, l.activated ? this.now : null, l.expiresAt])
      : changes.length > 0
        ? await this.tx.run(store.postEntry.lotChanges, [
            ...entryParams,
            pgArray(changes.map((ch) => ch.lotId)), pgArray(changes.map((ch) => ch.amount)), pgArray(changes.map((ch) => ch.forgiven ?? 0)),
          ])
        : await this.tx.run(store.postEntry.plain, entryParams);
    Object.assign(s, next, { lifetimeEarned: lifetime.earned, lifetimeRedeemed: lifetime.redeemed });
    const entry = toEntryRecord(row, s.memberId);
    await this.record([entry]);
    return entry;
  }
}

/** A guard, far above any real chain of take-backs covering for each other: a loop would be a bug. */
const MAX_SETTLE_ROUNDS = 100;
