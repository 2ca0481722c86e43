import { randomUUID } from 'node:crypto';
import type { Database, UnitOfWork } from '../../db/database';
import { notFound } from '../../errors';
import { AccountBook } from '../ledger';
import { memberLookup, type MemberRecord } from '../members';
import type { Clock, DomainHooks, MemberRef, RequestContext } from '../shared';
import { checkClientKey, idempotentTransaction, isUuid, once, systemKey } from '../shared';
import { birthdayCelebration, isoDate } from './birthday-calendar';
import type { EarningService } from './earning-service';
import type { Simulation } from './earning-types';
import { checkEvent, checkOccurredAt } from './event-checks';
import * as store from './event-store';
import type { BirthdayRun, EventRecord, SimulateEventInput, TrackEventInput, TrackEventResult } from './event-types';

const BIRTHDAY_BATCH = 500;
const NO_ID = '00000000-0000-0000-0000-000000000000';

/** A birthday run that raised what it could; `run` counts the failures, `cause` is the first. */
export class BirthdayRunError extends Error {
  constructor(
    readonly run: BirthdayRun,
    cause: unknown,
  ) {
    super(`${run.failed} birthday(s) failed, ${run.raised} raised: ${(cause as Error).message}`, { cause });
  }
}

function toEvent(row: store.EventRow): EventRecord {
  return {
    id: row.id,
    programId: row.program_id,
    memberId: row.member_id,
    type: row.type,
    payload: row.payload ?? {},
    occurredAt: new Date(row.occurred_at),
    idempotencyKey: row.idempotency_key,
    createdAt: new Date(row.created_at),
  };
}

function reviveResult(json: any): TrackEventResult {
  return {
    event: { ...json.event, occurredAt: new Date(json.event.occurredAt), createdAt: new Date(json.event.createdAt) },
    awards: json.awards.map((a: any) => ({ ...a, entry: { ...a.entry, createdAt: new Date(a.entry.createdAt) } })),
    memberPoints: json.memberPoints,
    // Answers stored before limits were reported carry none.
    limited: json.limited ?? [],
  };
}

/** The birthday job's key for one member and year: each birthday is raised once. */
const birthdayKey = (memberId: string, year: number) => systemKey('birthday', memberId, year);

/**
 * Events members do (registration, reviews, surveys, visits, custom ones) and birthdays.
 * Each tracked event is one transaction: the idempotency key, the event row, the member's
 * account lock and the rules' awards commit together; balance changes are published after.
 */
export class EventService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly earning: EarningService,
  ) {}

  async trackEvent(ctx: RequestContext, input: TrackEventInput): Promise<TrackEventResult> {
    checkClientKey(input.idempotencyKey);
    const payload = checkEvent(input.type, input.payload, { allowSystem: false });
    const now = this.clock.now();
    const occurredAt = checkOccurredAt(input.occurredAt, now);
    const { idempotencyKey, ...request } = input;
    return idempotentTransaction(this.db, { programId: ctx.programId, key: idempotencyKey, operation: 'trackEvent', input: request, revive: reviveResult }, (tx) =>
      this.record(tx, ctx.programId, input.member, { type: input.type, payload, occurredAt, key: idempotencyKey }, now),
    );
  }

  /** E1: a registration is an event the rules see, in the transaction that registers the member. */
  subscribe(hooks: DomainHooks): void {
    hooks.on('member.registered', (tx, e) => this.onRegistered(tx, e.payload));
  }

  /** A member never exists without their registration event (and welcome bonus). */
  private readonly onRegistered = async (tx: UnitOfWork, member: MemberRecord): Promise<void> => {
    const now = this.clock.now();
    const key = systemKey('registration', member.id);
    await once(tx, { programId: member.programId, key, operation: 'registration', input: { memberId: member.id }, revive: (r) => r }, () =>
      this.record(tx, member.programId, { id: member.id }, { type: 'registration', payload: {}, occurredAt: now, key }, now),
    );
  };

  /** A dry run: what every rule would award for this event now, and why the others would not. Writes nothing. */
  async simulateEvent(ctx: RequestContext, input: SimulateEventInput): Promise<Simulation> {
    const payload = checkEvent(input.type, input.payload, { allowSystem: true });
    const now = this.clock.now();
    const occurredAt = checkOccurredAt(input.occurredAt, now);
    const [column, value] = await memberLookup(this.db, ctx.programId, input.member);
    const byColumn = store.memberIdBy[column as keyof typeof store.memberIdBy];
    const [member] = column === 'id' && !isUuid(value) ? [] : await this.db.run(byColumn, [ctx.programId, value]);
    if (!member) throw notFound('Member', { member: input.member });
    return this.earning.simulate(ctx.programId, {
      trigger: input.type,
      memberId: member.id,
      occurredAt,
      payload,
      order: input.order ?? undefined,
      now,
    });
  }

  /** The programs a birthday run visits: every one, in id order (the job asks before it has a program). */
  async birthdayPrograms(): Promise<string[]> {
    return (await this.db.run(store.programIds, [])).map((row) => row.id);
  }

  /**
   * E2: raises 'birthday' for the context's program's members whose birthday is
   * `birthdayDaysBefore` days after today in its time zone (see {@link birthdayCelebration}).
   * Keyed by member and year, so re-runs and concurrent runs raise each birthday once. A member
   * that fails does not stop the others: the run ends with a {@link BirthdayRunError} that
   * counts them, and the next run retries them. Logs only when it did something.
   */
  async birthdays(ctx: RequestContext, asOf: Date): Promise<BirthdayRun> {
    const [program] = await this.db.run(store.birthdaySettings, [ctx.programId]);
    if (!program) throw notFound('Program', { programId: ctx.programId });
    const run: BirthdayRun = { programs: 1, raised: 0, points: 0, failed: 0 };
    let firstError: unknown;
    const { celebratedOn, year, month, days } = birthdayCelebration(asOf, program.time_zone, program.birthday_days_before);
    const payload = (birthday: string) => ({ birthday, celebratedOn: isoDate(celebratedOn), daysBefore: program.birthday_days_before });
    for (let after = NO_ID; ; ) {
      // Members already raised this year are skipped here; `once` still guards a race with another run.
      const members = await this.db.run(store.birthdayMembers, [ctx.programId, month, days, after, systemKey('birthday'), String(year), BIRTHDAY_BATCH]);
      for (const member of members) {
        try {
          const raised = await this.raiseBirthday(ctx.programId, member.id, payload(member.birthday), year, asOf);
          if (raised) {
            run.raised++;
            run.points += raised.memberPoints;
          }
        } catch (error) {
          run.failed++;
          firstError ??= error;
        }
      }
      if (members.length < BIRTHDAY_BATCH) break;
      after = members[members.length - 1]!.id;
    }
    if (run.raised > 0 || run.failed > 0) ctx.logger.info({ programId: ctx.programId, ...run, err: firstError }, 'Birthdays raised');
    // Reported after the others were raised; the next run retries the failed ones.
    if (firstError) throw new BirthdayRunError(run, firstError);
    return run;
  }

  /** The birthday event of one member and year, or null when another run already raised it. */
  private async raiseBirthday(
    programId: string,
    memberId: string,
    payload: Record<string, unknown>,
    year: number,
    asOf: Date,
  ): Promise<TrackEventResult | null> {
    const key = birthdayKey(memberId, year);
    let fresh = false;
    const result = await idempotentTransaction(this.db, { programId, key, operation: 'birthday', input: { memberId, year }, revive: reviveResult }, async (tx) => {
      fresh = false;
      const raised = await this.record(tx, programId, { id: memberId }, { type: 'birthday', payload, occurredAt: asOf, key }, this.clock.now());
      // Set once the work is done: a replay starts it too, and abandons it at its first read.
      fresh = true;
      return raised;
    });
    return fresh ? result : null;
  }

  /** Writes the event and puts it through the rules, with the member's account locked. */
  private async record(
    tx: UnitOfWork,
    programId: string,
    member: MemberRef,
    event: { type: string; payload: Record<string, unknown>; occurredAt: Date; key: string },
    now: Date,
  ): Promise<TrackEventResult> {
    const book = await AccountBook.open(tx, programId, member, now);
    const [row] = await tx.run(store.insertEvent, [
      randomUUID(), programId, book.state.memberId, event.type, JSON.stringify(event.payload), event.occurredAt, event.key, now,
    ]);
    const outcome = await this.earning.earn(tx, book, {
      trigger: event.type,
      occurredAt: event.occurredAt,
      payload: event.payload,
      source: { type: 'event', id: row!.id },
    });
    return { event: toEvent(row!), awards: outcome.awards, memberPoints: outcome.memberPoints, limited: outcome.limited };
  }
}
