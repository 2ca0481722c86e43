import { randomUUID } from 'node:crypto';
import type { Database, Sql, UnitOfWork } from '../../db/database';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';
import { memberLookup } from '../members';
import { checkClientKey, checkReason, idempotentTransaction, type Actor, type Clock, type DomainHooks, type MemberRef } from '../shared';
import { emitTierChanges } from './events';
import {
  addMonths, amountAt, downgradeDue, justifiedAmount, lookbackStart, progressTo, rankFor, windowStart,
} from './qualification';
import { applyRequalification, previewCounts, runRequalify } from './requalify-store';
import { checkStructure } from './structure-input';
import {
  findMemberId, holdStructureForSave, holdStructureShared, insertHistory, insertStructure, latestVersion, loadContributions, loadHistory, loadStructure, lockMemberAccount, lockProgram,
  orderQualification, programTimeZone, readMemberTier, syncOrderQualification, tieredPrograms, windowAmount, writeMemberTier, writeOrderQualification,
} from './tier-store';
import type {
  GrantKind, MemberTierState, TierChange, TierChangeReason, TierHistoryRecord, TierLevel, TierStatusRecord, TierStructure,
  TierStructureInput, TierStructurePreview,
} from './types';

/** How long a program's structure is cached per instance; a save on this instance drops it at once. */
const STRUCTURE_TTL_MS = 3_000;
const MAX_MEMBERSHIP_MONTHS = 36;

interface ProgramTiers {
  structure: TierStructure | null;
  timeZone: string;
}

/** The member's tier in force with the level's benefits, as the rules and checkout see it. */
export interface MemberTierBenefits {
  code: string;
  earnMultiplier: number;
  maxRedeemPercent: number | null;
  discountPercent: number;
}

export interface TierMembershipRecord {
  memberId: string;
  tierCode: string;
  validUntil: Date;
  /** True when the purchase extended a running membership of the same tier. */
  renewed: boolean;
}

/**
 * Tiers (T1–T5, A3): the structure per program, qualification from paid orders, the tier in
 * force (earned, or granted: a VIP assignment or a paid membership), its history, and the
 * requalify job. Upgrades happen in the transaction that paid the order; downgrades only by
 * the job, after the grace period; a take-back (cancel, return) is judged as if the returned
 * lines were never bought.
 */
export class TierService {
  private readonly cache = new Map<string, ProgramTiers & { until: number }>();
  /** Bumped by every save here and every attempt that failed holding a structure: a load that began before does not fill the cache. */
  private changes = 0;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Follows the order lifecycle: qualification on pay, take-back on cancel and returns. */
  subscribe(hooks: DomainHooks): void {
    hooks
      // An order's events always name its member (raised with the member's account).
      .on('order.paid', (tx, e) => this.onOrderPaid(tx, e.programId, e.memberId!, e.payload.id, new Date(e.payload.occurredAt)))
      .on('order.cancelled', (tx, e) => this.onOrderReversed(tx, e.programId, e.payload.id, new Date(e.payload.occurredAt)))
      .on('order.lines_refunded', (tx, e) => this.onOrderReversed(tx, e.programId, e.payload.id, new Date(e.payload.occurredAt)));
  }

  // ---- reading ------------------------------------------------------------------------------

  async structure(programId: string): Promise<TierStructure | null> {
    return (await this.programTiers(this.db, programId)).structure;
  }

  /** The member's tier in force and its benefits, or null (no structure, or no level reached). */
  async memberTier(db: Sql, programId: string, memberId: string, now: Date): Promise<MemberTierBenefits | null> {
    const { structure } = await this.programTiers(db, programId);
    if (!structure) return null;
    const { level } = inForce(await readMemberTier(db, memberId), structure, now);
    return level && { code: level.code, earnMultiplier: level.earnMultiplier, maxRedeemPercent: level.maxRedeemPercent, discountPercent: level.discountPercent };
  }

  /** The share cap of the member's tier (S1); null = the program's maxRedeemPercent. */
  async redeemPercentFor(db: Sql, programId: string, memberId: string, now: Date): Promise<number | null> {
    return (await this.memberTier(db, programId, memberId, now))?.maxRedeemPercent ?? null;
  }

  async tierStatus(programId: string, member: MemberRef): Promise<TierStatusRecord | null> {
    const memberId = await resolveMember(this.db, programId, member);
    const { structure, timeZone } = await this.programTiers(this.db, programId);
    if (!structure) return null;
    const now = this.clock.now();
    const state = await readMemberTier(this.db, memberId);
    const { level, source, earned } = inForce(state, structure, now);
    const earnedSince = state?.earnedSince ?? null;
    const lookback = lookbackStart(now, structure.graceDays, structure.downgradePolicy);
    const oldest = [lookback, earnedSince, now].filter((d): d is Date => d !== null).reduce((a, b) => (a < b ? a : b));
    const from = structure.window.kind === 'lifetime' || !lookback ? null : windowStart(oldest, structure.window, timeZone);
    const contributions = await loadContributions(this.db, memberId, structure.metric, from, now);
    const amount = amountAt(contributions, now, structure.window, timeZone);
    const progress = progressTo(amount, level?.rank ?? -1, structure.levels);
    const due = earned && earned.threshold > 0
      ? downgradeDue(contributions, { rank: earned.rank, since: earnedSince ?? now }, structure.levels, structure.downgradePolicy,
          structure.graceDays, now, structure.window, timeZone)
      : null;
    const granted = source === 'manual' || source === 'paid';
    const dueTo = due ? levelAt(structure, due.toRank) : null;
    return {
      memberId,
      structureVersion: structure.version,
      metric: structure.metric,
      tier: level,
      source,
      since: granted || state?.tierSince ? state?.tierSince ?? null : null,
      validUntil: granted ? state!.grantUntil : due?.at ?? null,
      earnedTier: earned,
      qualifyingAmount: amount,
      windowStart: windowStart(now, structure.window, timeZone),
      nextTier: progress.next,
      amountToNext: progress.needed,
      progress: progress.progress,
      downgradeRisk: granted
        ? { toCode: earned?.code ?? null, at: state!.grantUntil! }
        : due && { toCode: dueTo?.code ?? null, at: due.at },
    };
  }

  async tierHistory(programId: string, member: MemberRef, first = 50): Promise<TierHistoryRecord[]> {
    const memberId = await resolveMember(this.db, programId, member);
    if (!Number.isSafeInteger(first) || first < 1 || first > 500) throw badInput('first must be 1 to 500', { field: 'first' });
    return loadHistory(this.db, memberId, first);
  }

  // ---- the structure ------------------------------------------------------------------------

  /** A dry run of `input` over today's members: how many would hold each tier, and move up or down. Writes nothing. */
  async previewStructure(actor: Actor, input: TierStructureInput): Promise<TierStructurePreview> {
    const checked = checkStructure(input);
    const { structure: current, timeZone } = await this.programTiers(this.db, actor.programId, true);
    const next: TierStructure = { ...checked, id: randomUUID(), programId: actor.programId, version: (current?.version ?? 0) + 1, createdAt: this.clock.now() };
    const rows = await previewCounts(this.db, actor.programId, current, next, timeZone, this.clock.now());
    const names = new Map([...(current?.levels ?? []), ...next.levels].map((l) => [l.code, l.name]));
    const rank = (code: string | null) => next.levels.find((l) => l.code === code)?.rank ?? -1;
    const tiers = rows
      .filter((r) => r.code !== null || r.before + r.after > 0)
      .map((r) => ({ code: r.code ?? '', name: r.code ? names.get(r.code) ?? null : null, before: r.before, after: r.after, movingUp: r.movingUp, movingDown: r.movingDown }))
      .sort((a, b) => rank(a.code || null) - rank(b.code || null) || a.code.localeCompare(b.code));
    const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + f(r), 0);
    const members = sum((r) => r.after);
    const moving = sum((r) => r.movingUp + r.movingDown);
    return { members, movingUp: sum((r) => r.movingUp), movingDown: sum((r) => r.movingDown), unchanged: members - moving, tiers };
  }

  /** Saves `input` as the program's next version and requalifies every member under it, recording each change. */
  async saveStructure(actor: Actor, input: TierStructureInput): Promise<{ structure: TierStructure; changed: number }> {
    const checked = checkStructure(input);
    const changes = await this.db.transaction(async (tx) => {
      // One save at a time per program: the version number and the requalification follow each other.
      // What shares the structure lock (orders, grants, the job) commits first — the
      // requalification below counts it — or waits. Taken before the program row: a holder
      // may still key-share the row.
      await holdStructureForSave(tx, actor.programId);
      const timeZone = await lockProgram(tx, actor.programId);
      if (timeZone === null) throw notFound('Program', { id: actor.programId });
      const current = await loadStructure(tx, actor.programId);
      const now = this.clock.now();
      const next: TierStructure = { ...checked, id: randomUUID(), programId: actor.programId, version: (await latestVersion(tx, actor.programId)) + 1, createdAt: now };
      await insertStructure(tx, { ...next, createdBy: actor.id });
      const changed = await applyRequalification(tx, actor.programId, current, next, timeZone, now);
      await emitTierChanges(tx, actor.programId, changed);
      return changed;
    });
    this.changes++;
    this.cache.delete(actor.programId);
    return { structure: (await this.structure(actor.programId))!, changed: changes.length };
  }

  // ---- grants -------------------------------------------------------------------------------

  /** Puts the member in `tierCode` until `until` (VIP); afterwards they hold what they earned, nothing more. */
  async assignTier(actor: Actor, input: { member: MemberRef; tierCode: string; until: Date; reason?: string | null }): Promise<TierStatusRecord> {
    const reason = checkReason(input.reason);
    const now = this.clock.now();
    if (!(input.until instanceof Date) || Number.isNaN(input.until.getTime()) || input.until <= now) {
      throw badInput('until must be a time in the future', { field: 'until' });
    }
    const changes = await this.db.transaction(async (tx) => {
      const memberId = await lockMember(tx, actor.programId, input.member);
      const { structure } = await this.requireStructure(tx, actor.programId);
      this.holdStructure(tx, actor.programId, structure);
      levelByCode(structure, input.tierCode, 'tierCode');
      const detail = `Assigned until ${input.until.toISOString()}${reason ? `: ${reason}` : ''}`;
      const changed = await this.grant(tx, structure, memberId, { code: input.tierCode, kind: 'manual', until: input.until }, 'assigned', detail, now);
      await emitTierChanges(tx, actor.programId, changed);
      return changed;
    });
    return (await this.tierStatus(actor.programId, input.member))!;
  }

  /**
   * A paid membership of `tierCode` for `months` (T5). Buying the tier of a running grant (paid
   * or assigned) renews it from its end; a higher tier replaces a running grant from now; a lower
   * one is refused (see checkPurchasable). When it ends, the requalify job puts the member back
   * in the tier they earned. Idempotent by `idempotencyKey`.
   */
  async purchaseTierMembership(
    actor: Actor,
    input: { member: MemberRef; tierCode: string; months: number; idempotencyKey: string },
  ): Promise<TierMembershipRecord> {
    checkClientKey(input.idempotencyKey);
    if (!Number.isSafeInteger(input.months) || input.months < 1 || input.months > MAX_MEMBERSHIP_MONTHS) {
      throw badInput(`months must be a whole number from 1 to ${MAX_MEMBERSHIP_MONTHS}`, { field: 'months' });
    }
    const { idempotencyKey, ...rest } = input;
    return idempotentTransaction(
      this.db,
      { programId: actor.programId, key: idempotencyKey, operation: 'purchaseTierMembership', input: rest, revive: reviveMembership },
      async (tx) => {
        const memberId = await lockMember(tx, actor.programId, input.member);
        const { structure, timeZone } = await this.requireStructure(tx, actor.programId);
        this.holdStructure(tx, actor.programId, structure);
        const level = levelByCode(structure, input.tierCode, 'tierCode');
        const now = this.clock.now();
        const state = await readMemberTier(tx, memberId, true);
        checkPurchasable(structure, level, state, now);
        // The tier of a running grant, paid or assigned, is bought on from its end: no day of it is lost.
        const renewed = state?.grantCode === input.tierCode && state.grantUntil! > now;
        const until = addMonths(renewed ? state!.grantUntil! : now, input.months, timeZone);
        const detail = `${renewed ? 'Renewed' : 'Bought'} for ${input.months} month(s), until ${until.toISOString()}`;
        const changes = await this.grant(tx, structure, memberId, { code: input.tierCode, kind: 'paid', until }, 'purchased', detail, now, true);
        await emitTierChanges(tx, actor.programId, changes);
        return { memberId, tierCode: input.tierCode, validUntil: until, renewed };
      },
    );
  }

  // ---- order hooks (called inside the order's transaction, the member's account locked) --------

  /** An order was paid: it counts for qualification from now, and lifts the member at once if it reaches a higher tier. */
  async onOrderPaid(tx: UnitOfWork, programId: string, memberId: string, orderId: string, now: Date): Promise<void> {
    const { structure, timeZone } = await this.programTiers(tx, programId);
    this.holdStructure(tx, programId, structure);
    if (!structure) {
      // No tier to lift: the order is only counted, for a structure saved later; nothing here reads it back.
      writeOrderQualification(tx, orderId, now);
      return;
    }
    // Most payments lift no one: decide on plain reads, and lock the member's tier row only to
    // write it (the decision is taken again under the lock). The qualification, the member's tier
    // and the window's sum go out together, in one round trip; PostgreSQL runs them in that order,
    // so the sum counts this order.
    const from = windowStart(now, structure.window, timeZone);
    const [row, tier, amount] = await Promise.all([
      syncOrderQualification(tx, orderId, now),
      readMemberTier(tx, memberId),
      windowAmount(tx, memberId, structure.metric, from, now),
    ]);
    if (!row) return;
    const top = structure.levels[structure.levels.length - 1]?.rank ?? -1;
    const seen = inForce(tier, structure, now).earned?.rank ?? -1;
    if (seen >= top) return;
    const qualified = rankFor(amount, structure.levels);
    if (qualified <= seen) return;
    const state = await readMemberTier(tx, memberId, true);
    const { earned } = inForce(state, structure, now);
    if (qualified <= (earned?.rank ?? -1)) return;
    const to = levelAt(structure, qualified)!;
    const changes = await this.setEarned(tx, structure, memberId, state, to, 'qualified', `Qualified with ${amount} (${structure.metric})`, now);
    await emitTierChanges(tx, row.programId, changes);
  }

  /**
   * Lines of a paid order were returned, or it was cancelled: the order now counts for less. If
   * the member's tier rested on what was taken back — they qualified for it within the grace
   * lookback with the order, and without it they did not — they fall at once to what they
   * qualify for without it. A tier kept by grace or policy is not touched.
   */
  async onOrderReversed(tx: UnitOfWork, programId: string, orderId: string, now: Date): Promise<void> {
    // The order's own row, written only under its lock: read before the structure lock, so that
    // an order that never counted (cancelled unpaid) waits for no save.
    const before = await orderQualification(tx, orderId);
    if (!before) {
      await syncOrderQualification(tx, orderId, now);
      return;
    }
    const { structure, timeZone } = await this.programTiers(tx, programId);
    this.holdStructure(tx, programId, structure);
    const row = await syncOrderQualification(tx, orderId, now);
    if (!row || !structure) return;
    const taken = structure.metric === 'spend' ? before.moneyMinor - row.moneyMinor : before.points - row.points;
    if (taken <= 0) return;
    const state = await readMemberTier(tx, row.memberId, true);
    const { earned } = inForce(state, structure, now);
    if (!earned || earned.threshold === 0) return;
    const lookback = lookbackStart(now, structure.graceDays, structure.downgradePolicy);
    const from = structure.window.kind === 'lifetime' || !lookback ? null : windowStart(lookback, structure.window, timeZone);
    const after = await loadContributions(tx, row.memberId, structure.metric, from, now);
    const withOrder = [...after, { at: row.qualifiedAt, amount: taken }];
    const justified = (list: typeof after) => rankFor(justifiedAmount(list, now, lookback, structure.window, timeZone), structure.levels);
    const rankAfter = justified(after);
    if (justified(withOrder) < earned.rank || rankAfter >= earned.rank) return;
    const changes = await this.setEarned(tx, structure, row.memberId, state, levelAt(structure, rankAfter), 'returned', `Order returned or cancelled: ${taken} (${structure.metric}) taken back`, now);
    await emitTierChanges(tx, row.programId, changes);
  }

  // ---- the job ------------------------------------------------------------------------------

  /** The requalify-tiers job: ended grants fall away, and tiers not qualified for during the grace period go down, per program. */
  async requalify(asOf: Date): Promise<Record<string, number>> {
    const programs = await tieredPrograms(this.db);
    const totals = { programs: programs.length, changed: 0, downgraded: 0, grantsEnded: 0 };
    for (const p of programs) {
      const changes = await this.db.transaction(async (tx) => {
        const structure = await loadStructure(tx, p.programId);
        if (structure) this.holdStructure(tx, p.programId, structure);
        const changed = structure ? await runRequalify(tx, p.programId, structure, p.timeZone, asOf) : [];
        await emitTierChanges(tx, p.programId, changed);
        return changed;
      });
      totals.changed += changes.length;
      totals.downgraded += changes.filter((c) => c.reason === 'grace_ended').length;
      totals.grantsEnded += changes.filter((c) => c.reason !== 'grace_ended').length;
    }
    return totals;
  }

  // ---- inside ---------------------------------------------------------------------------------

  private async programTiers(db: Sql, programId: string, fresh = false): Promise<ProgramTiers> {
    const cached = this.cache.get(programId);
    if (!fresh && cached && cached.until > Date.now()) return cached;
    const seen = this.changes;
    const timeZone = await programTimeZone(db, programId);
    const entry = { structure: await loadStructure(db, programId), timeZone: timeZone ?? 'UTC', until: Date.now() + STRUCTURE_TTL_MS };
    // A load that began before a save here committed may hold the old structure: not cached.
    if (this.changes === seen) this.cache.set(programId, entry);
    return entry;
  }

  /**
   * The transaction shares the program's tier-structure lock from here on, holding the structure
   * it read: a save waits for it, or it for the save and is then tried again (the structure it
   * read is no longer the newest; the next try reads it afresh). So neither misses the other.
   */
  private holdStructure(tx: UnitOfWork, programId: string, structure: TierStructure | null): void {
    holdStructureShared(tx, programId, structure?.version ?? 0);
    tx.afterRollback(() => {
      // A load under way may hold the structure the failure was about: it must not fill the cache.
      this.changes++;
      this.cache.delete(programId);
    });
  }

  private async requireStructure(db: Sql, programId: string): Promise<{ structure: TierStructure; timeZone: string }> {
    const { structure, timeZone } = await this.programTiers(db, programId, true);
    if (!structure) throw new PatronError(ErrorCode.INVALID_STATE, 'The program has no tier structure yet: saveTierStructure first');
    return { structure, timeZone };
  }

  /** Writes the member's earned tier and records the change of the tier in force, if any. */
  private async setEarned(
    tx: Sql, structure: TierStructure, memberId: string, state: MemberTierState | null, to: TierLevel | null,
    reason: TierChangeReason, detail: string, now: Date,
  ): Promise<TierChange[]> {
    const base = blankState(memberId, structure);
    const next: MemberTierState = { ...(state ?? base), earnedCode: to?.code ?? null, earnedSince: now };
    return this.write(tx, structure, state, next, reason, detail, now, false);
  }

  private async grant(
    tx: Sql, structure: TierStructure, memberId: string, grant: { code: string; kind: GrantKind; until: Date },
    reason: TierChangeReason, detail: string, now: Date, recordAlways = false,
  ): Promise<TierChange[]> {
    const state = await readMemberTier(tx, memberId, true);
    const next: MemberTierState = { ...(state ?? blankState(memberId, structure)), grantCode: grant.code, grantKind: grant.kind, grantUntil: grant.until };
    return this.write(tx, structure, state, next, reason, detail, now, recordAlways);
  }

  private async write(
    tx: Sql, structure: TierStructure, state: MemberTierState | null, next: MemberTierState,
    reason: TierChangeReason, detail: string, now: Date, recordAlways: boolean,
  ): Promise<TierChange[]> {
    const from = inForce(state, structure, now).level?.code ?? null;
    const to = inForce(next, structure, now).level?.code ?? null;
    const changed = from !== to;
    await writeMemberTier(tx, structure.programId, { ...next, tierCode: to, tierSince: changed ? now : next.tierSince ?? now }, now);
    if (!changed && !recordAlways) return [];
    const change: TierChange = {
      programId: structure.programId, memberId: next.memberId, fromCode: from, toCode: to, reason, detail, structureVersion: structure.version, changedAt: now,
    };
    await insertHistory(tx, change);
    return [change];
  }
}

const levelAt = (structure: TierStructure, rank: number): TierLevel | null => structure.levels.find((l) => l.rank === rank) ?? null;
const baseLevel = (structure: TierStructure): TierLevel | null => (structure.levels[0]?.threshold === 0 ? structure.levels[0] : null);

function levelByCode(structure: TierStructure, code: string, field: string): TierLevel {
  const level = structure.levels.find((l) => l.code === code);
  if (!level) throw badInput(`No tier '${code}' in the program's structure; tiers: ${structure.levels.map((l) => l.code).join(', ')}`, { field, value: code });
  return level;
}

/**
 * A member holds one grant at a time, so a purchase replaces the running one: refused when that
 * would take away a higher tier already paid for or assigned. The base tier is everyone's.
 */
function checkPurchasable(structure: TierStructure, level: TierLevel, state: MemberTierState | null, now: Date): void {
  if (baseLevel(structure)?.code === level.code) {
    throw badInput(`${level.name} is every member's tier: there is no membership of it to buy`, { field: 'tierCode', value: level.code });
  }
  const running = state?.grantCode && state.grantUntil && state.grantUntil > now ? structure.levels.find((l) => l.code === state.grantCode) : null;
  if (running && running.rank > level.rank) {
    const validUntil = state!.grantUntil!.toISOString();
    const held = state!.grantKind === 'paid' ? `A paid ${running.name} membership` : `An assigned ${running.name} membership`;
    throw new PatronError(ErrorCode.INVALID_STATE, `${held} runs until ${validUntil}: buying ${level.name}, a lower tier, would end it`, {
      field: 'tierCode',
      runningTierCode: running.code,
      validUntil,
    });
  }
}

function blankState(memberId: string, structure: TierStructure): MemberTierState {
  const base = baseLevel(structure);
  return { memberId, earnedCode: base?.code ?? null, earnedSince: null, grantCode: null, grantKind: null, grantUntil: null, tierCode: base?.code ?? null, tierSince: null };
}

/**
 * The tier in force: the earned one (the base level when nothing else was earned), or a running
 * grant when it is higher. A grant past its end counts for nothing, even before the job records it.
 */
export function inForce(state: MemberTierState | null, structure: TierStructure, now: Date): {
  level: TierLevel | null; source: 'earned' | GrantKind | null; earned: TierLevel | null;
} {
  const earned = (state?.earnedCode ? structure.levels.find((l) => l.code === state.earnedCode) : null) ?? baseLevel(structure);
  const granted = state?.grantCode && state.grantUntil && state.grantUntil > now ? structure.levels.find((l) => l.code === state.grantCode) : null;
  if (granted && granted.rank > (earned?.rank ?? -1)) return { level: granted, source: state!.grantKind, earned };
  return { level: earned, source: earned ? 'earned' : null, earned };
}

async function resolveMember(db: Sql, programId: string, member: MemberRef): Promise<string> {
  const [column, value] = await memberLookup(db, programId, member);
  const id = await findMemberId(db, programId, column, value);
  if (!id) throw notFound('Member', { member });
  return id;
}

/** Locks the member's account (the lock every write about a member takes first) and returns the member id. */
async function lockMember(tx: Sql, programId: string, member: MemberRef): Promise<string> {
  const [column, value] = await memberLookup(tx, programId, member);
  const id = await lockMemberAccount(tx, programId, column, value);
  if (!id) throw notFound('Member', { member });
  return id;
}

const reviveMembership = (json: any): TierMembershipRecord => ({ ...json, validUntil: new Date(json.validUntil) });
