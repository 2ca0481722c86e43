import type { Actor, MemberRef } from '../shared';
import type { Database, Sql } from '../../db/database';
import { isUuid } from '../shared';
import { randomUUID } from 'node:crypto';
import type { JobDefinition } from '../../jobs/runner';
import { isPlainObject } from '../../rules/args';
import { localTime } from '../../rules/time-zone';
import { badInput, notFound } from '../../errors';
import type { RuleContext } from '../../rules';
import { AccountBook, type EntryRecord } from '../ledger';
import type { Clock } from '../shared';
import type { EarningService } from './earning-service';
import type { RuleAwardRecord, Simulation } from './earning-types';
import { publishBalanceChanges, uniqueEntries, type EventPublisher } from '../realtime';
import { checkClientKey, once, systemKey } from '../shared';

import { memberRefColumn, type MemberRecord } from '../members';

/** Event types Patron raises itself; a storefront cannot report them. */
export const SYSTEM_EVENT_TYPES = ['registration', 'birthday', 'order_paid'] as const;

export interface TrackEventInput {
  type: string;
  member: MemberRef;
  payload?: Record<string, unknown> | null;
  /** When it happened; defaults to now. */
  occurredAt?: Date | null;
  /** The shop's id for this event: the same key is tracked once. */
  idempotencyKey: string;
}

export interface SimulateEventInput {
  type: string;
  member: MemberRef;
  payload?: Record<string, unknown> | null;
  occurredAt?: Date | null;
  /** For 'order_paid': the order as the order service would pass it. */
  order?: RuleContext['order'] | null;
}

export interface EventRecord {
  id: string;
  programId: string;
  memberId: string;
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  idempotencyKey: string;
  createdAt: Date;
}

export interface TrackEventResult {
  event: EventRecord;
  awards: RuleAwardRecord[];
  /** Points credited to the member (referrers' awards are in `awards`). */
  memberPoints: number;
}

export interface BirthdayRun {
  programs: number;
  raised: number;
  points: number;
  failed: number;
}

const TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const MAX_PAYLOAD_JSON = 16_000;
/** Clocks differ; an event a little ahead of ours is still believed. */
const FUTURE_SKEW_MS = 5 * 60_000;
const BIRTHDAY_BATCH = 500;

function toEvent(row: any): EventRecord {
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
  };
}

/** Checks an event's type and payload; the known types have shapes their rules rely on. */
export function checkEvent(type: string, payload: unknown, options: { allowSystem: boolean }): Record<string, unknown> {
  if (typeof type !== 'string' || !TYPE.test(type)) {
    throw badInput('type must be lower-case letters, digits and _ . : - (at most 64), starting with a letter', { field: 'type' });
  }
  if (!options.allowSystem && (SYSTEM_EVENT_TYPES as readonly string[]).includes(type)) {
    throw badInput(`'${type}' events are raised by Patron itself (registration by upsertMember, birthday by its job, order_paid by orders)`, {
      field: 'type',
    });
  }
  const body = payload ?? {};
  if (!isPlainObject(body)) throw badInput('payload must be a JSON object', { field: 'payload' });
  if (JSON.stringify(body).length > MAX_PAYLOAD_JSON) {
    throw badInput(`payload must be at most ${MAX_PAYLOAD_JSON} characters of JSON`, { field: 'payload' });
  }
  const fail = (path: string, message: string) => badInput(`payload.${path} ${message}`, { field: `payload.${path}` });
  const optionalText = (path: string) => {
    const value = body[path];
    if (value !== undefined && (typeof value !== 'string' || !value.trim() || value.length > 500)) {
      throw fail(path, 'must be a non-empty string of at most 500 characters');
    }
  };
  switch (type) {
    case 'survey_answer': {
      const score = body.score;
      if (typeof score !== 'number' || !Number.isInteger(score) || score < 0 || score > 10) {
        throw fail('score', 'must be a whole number from 0 to 10');
      }
      optionalText('surveyId');
      break;
    }
    case 'product_review': {
      optionalText('sku');
      optionalText('productId');
      if (body.sku === undefined && body.productId === undefined) throw fail('sku', 'or payload.productId is required');
      const rating = body.rating;
      if (rating !== undefined && (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5)) {
        throw fail('rating', 'must be a whole number from 1 to 5');
      }
      break;
    }
    case 'external_visit': {
      for (const field of ['referrer', 'url'] as const) {
        const value = body[field];
        if (value !== undefined && !isHttpUrl(value)) throw fail(field, 'must be an http(s) URL');
      }
      const utm = body.utm;
      if (utm !== undefined && (!isPlainObject(utm) || !Object.values(utm).every((v) => typeof v === 'string'))) {
        throw fail('utm', 'must be an object of strings, e.g. { source: "blog", campaign: "spring" }');
      }
      if (utm === undefined && body.referrer === undefined) throw fail('utm', 'or payload.referrer is required');
      break;
    }
    case 'newsletter_subscription':
      optionalText('channel');
      break;
  }
  return body;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 2000) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** 'YYYY-MM-DD' of a UTC calendar date. */
const isoDate = (date: Date) => date.toISOString().slice(0, 10);
const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** The birthday job's key for one member and year: each birthday is raised once. */
const birthdayKey = (memberId: string, year: number) => systemKey('birthday', memberId, year);

/**
 * Events members do (registration, reviews, surveys, visits, custom ones) and the birthday job.
 * Each tracked event is one transaction: the idempotency key, the event row, the member's
 * account lock and the rules' awards commit together; balance changes are published after.
 */
export class EventService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly publisher: EventPublisher,
    private readonly earning: EarningService,
  ) {}

  async trackEvent(actor: Actor, input: TrackEventInput): Promise<TrackEventResult> {
    checkClientKey(input.idempotencyKey);
    const payload = checkEvent(input.type, input.payload, { allowSystem: false });
    const now = this.clock.now();
    const occurredAt = this.checkOccurredAt(input.occurredAt, now);
    const { idempotencyKey, ...request } = input;
    let written: EntryRecord[] = [];
    const result = await this.db.transaction((tx) => {
      written = [];
      return once(tx, { programId: actor.programId, key: idempotencyKey, operation: 'trackEvent', input: request, revive: reviveResult }, async () => {
        const recorded = await this.record(tx, actor.programId, input.member, { type: input.type, payload, occurredAt, key: idempotencyKey }, now);
        written = recorded.written;
        return recorded.result;
      });
    });
    publishBalanceChanges(this.publisher, written);
    return result;
  }

  /**
   * E1: the member-service hook, run inside the transaction that registers the member, so a
   * member never exists without their registration event. Returns the publishing to do after commit.
   */
  readonly onRegistered = async (tx: Sql, member: MemberRecord): Promise<() => void> => {
    const now = this.clock.now();
    const key = systemKey('registration', member.id);
    let written: EntryRecord[] = [];
    await once(tx, { programId: member.programId, key, operation: 'registration', input: { memberId: member.id }, revive: (r) => r }, async () => {
      const recorded = await this.record(tx, member.programId, { id: member.id }, { type: 'registration', payload: {}, occurredAt: now, key }, now);
      written = recorded.written;
      return recorded.result;
    });
    return () => publishBalanceChanges(this.publisher, written);
  };

  /** A dry run: what every rule would award for this event now, and why the others would not. Writes nothing. */
  async simulateEvent(programId: string, input: SimulateEventInput): Promise<Simulation> {
    const payload = checkEvent(input.type, input.payload, { allowSystem: true });
    const now = this.clock.now();
    const occurredAt = this.checkOccurredAt(input.occurredAt, now);
    const [column, value] = memberRefColumn(input.member);
    const [member] =
      column === 'id' && !isUuid(value)
        ? []
        : await this.db.execute(`select id from member where program_id = ? and ${column} = ?`, [programId, value]);
    if (!member) throw notFound('Member', { member: input.member });
    return this.earning.simulate(programId, {
      trigger: input.type,
      memberId: member.id,
      occurredAt,
      payload,
      order: input.order ?? undefined,
      now,
    });
  }

  /**
   * E2: raises 'birthday' for members whose birthday is `birthdayDaysBefore` days after today in
   * their program's time zone; Feb 29 birthdays are celebrated on Feb 28 in other years. Keyed by
   * member and year, so re-runs and concurrent runs raise each birthday once.
   */
  async birthdays(asOf: Date): Promise<BirthdayRun> {
    const run: BirthdayRun = { programs: 0, raised: 0, points: 0, failed: 0 };
    let firstError: unknown;
    const programs = await this.db.execute('select id, time_zone, birthday_days_before from program order by id');
    for (const program of programs) {
      run.programs++;
      const today = localTime(asOf, program.time_zone);
      const celebrated = new Date(Date.UTC(today.year, today.month - 1, today.day) + program.birthday_days_before * 86_400_000);
      const year = celebrated.getUTCFullYear();
      const month = celebrated.getUTCMonth() + 1;
      const days = [celebrated.getUTCDate()];
      if (month === 2 && days[0] === 28 && !isLeapYear(year)) days.push(29);
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        // Members already raised this year are skipped here; `once` still guards a race with another run.
        const members = await this.db.execute(
          `select m.id, to_char(m.birthday, 'YYYY-MM-DD') as birthday from member m
           where m.program_id = ? and m.birthday is not null
             and extract(month from m.birthday) = ?::numeric and extract(day from m.birthday) = any(?::numeric[]) and m.id > ?
             and not exists (select 1 from event e where e.program_id = m.program_id
                               and e.idempotency_key = ?::text || ':' || m.id || ':' || ?::text) -- birthdayKey(m.id, year)
           order by m.id limit ?`,
          [program.id, month, `{${days.join(',')}}`, after, systemKey('birthday'), String(year), BIRTHDAY_BATCH],
        );
        for (const member of members) {
          try {
            const raised = await this.raiseBirthday(program.id, member.id, {
              birthday: member.birthday,
              celebratedOn: isoDate(celebrated),
              daysBefore: program.birthday_days_before,
            }, year, asOf);
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
        after = members[members.length - 1].id;
      }
    }
    // Reported after the others were raised; the next run retries the failed ones.
    if (firstError) throw new Error(`${run.failed} birthday(s) failed, ${run.raised} raised: ${(firstError as Error).message}`);
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
    let written: EntryRecord[] = [];
    let fresh = false;
    const result = await this.db.transaction((tx) => {
      written = [];
      fresh = false;
      return once(tx, { programId, key, operation: 'birthday', input: { memberId, year }, revive: reviveResult }, async () => {
        const recorded = await this.record(tx, programId, { id: memberId }, { type: 'birthday', payload, occurredAt: asOf, key }, this.clock.now());
        written = recorded.written;
        fresh = true;
        return recorded.result;
      });
    });
    publishBalanceChanges(this.publisher, written);
    return fresh ? result : null;
  }

  private async record(
    tx: Sql,
    programId: string,
    member: MemberRef,
    event: { type: string; payload: Record<string, unknown>; occurredAt: Date; key: string },
    now: Date,
  ): Promise<{ result: TrackEventResult; written: EntryRecord[] }> {
    const book = await AccountBook.open(tx, programId, member, now);
    const [row] = await tx.execute(
      `insert into event (id, program_id, member_id, type, payload, occurred_at, idempotency_key, created_at)
       values (?, ?, ?, ?, ?::jsonb, ?, ?, ?) returning *`,
      [randomUUID(), programId, book.state.memberId, event.type, JSON.stringify(event.payload), event.occurredAt, event.key, now],
    );
    const outcome = await this.earning.earn(tx, book, {
      trigger: event.type,
      occurredAt: event.occurredAt,
      payload: event.payload,
      source: { type: 'event', id: row.id },
    });
    return {
      result: { event: toEvent(row), awards: outcome.awards, memberPoints: outcome.memberPoints },
      written: uniqueEntries(book.written, outcome.entries),
    };
  }

  private checkOccurredAt(occurredAt: Date | null | undefined, now: Date): Date {
    if (occurredAt == null) return now;
    if (!(occurredAt instanceof Date) || Number.isNaN(occurredAt.getTime())) throw badInput('occurredAt must be a valid time', { field: 'occurredAt' });
    if (occurredAt.getTime() > now.getTime() + FUTURE_SKEW_MS) throw badInput('occurredAt is in the future', { field: 'occurredAt' });
    return occurredAt;
  }
}

/** The birthday job for the job runner: `runner.register(birthdayJob(services))`. */
export function birthdayJob(services: { events: EventService }, schedule = '*/15 * * * *'): JobDefinition {
  // Every quarter hour: each program's day starts at its own midnight (some zones are :30 or :45 off UTC).
  return {
    name: 'birthdays',
    schedule,
    run: async (asOf) => ({ ...(await services.events.birthdays(asOf)) }),
  };
}
