import type { MemberRef } from '../shared';
import type { Database, Sql, UnitOfWork } from '../../db/database';
import { isUuid } from '../shared';
import { randomUUID } from 'node:crypto';
import { parsePhoneNumberWithError } from 'libphonenumber-js';
import { MemberStatus } from '../../entities/member';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';

import type { Clock } from '../shared';

export interface MemberRecord {
  id: string;
  programId: string;
  externalId: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  birthday: string | null;
  status: MemberStatus;
  tags: string[];
  registeredAt: Date;
  /** The member who referred this one, bound at registration. */
  referrerId: string | null;
  attributes: Record<string, unknown>;
}

export interface UpsertMemberInput {
  externalId: string;
  email?: string | null;
  phone?: string | null;
  name?: string | null;
  /** YYYY-MM-DD */
  birthday?: string | null;
  tags?: string[] | null;
  registeredAt?: Date | null;
  /** The referring member's externalId; bound when the member registers, ignored later. */
  referrerExternalId?: string | null;
  /** Replaces the member's attributes (facts rule conditions may compare) when given. */
  attributes?: Record<string, unknown> | null;
}

/**
 * Work that joins the transaction registering a member (e.g. the registration event and its
 * welcome bonus); the function it returns runs after commit (e.g. publishing balance changes).
 */
export type RegistrationHook = (tx: UnitOfWork, member: MemberRecord) => Promise<(() => void) | void>;

export interface UpsertMemberResult {
  member: MemberRecord;
  created: boolean;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (e.length > 254 || !EMAIL.test(e)) throw badInput('email is not a valid e-mail address', { field: 'email' });
  return e;
}

/** E.164; numbers without a country code are read as Russian, the programs' home market. */
export function normalizePhone(phone: string): string {
  try {
    const parsed = parsePhoneNumberWithError(phone.trim(), 'RU');
    if (!parsed.isPossible()) throw new Error('impossible');
    return parsed.number;
  } catch {
    throw badInput('phone is not a valid phone number', { field: 'phone' });
  }
}

function checkBirthday(birthday: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthday);
  const date = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  if (!m || !date || date.getUTCDate() !== +m[3] || date.getUTCMonth() !== +m[2] - 1 || +m[1] < 1900) {
    throw badInput('birthday must be a date YYYY-MM-DD', { field: 'birthday' });
  }
  return birthday;
}

const MAX_ATTRIBUTES_JSON = 8_000;

function checkAttributes(attributes: Record<string, unknown>): string {
  const json = typeof attributes === 'object' && !Array.isArray(attributes) ? JSON.stringify(attributes) : undefined;
  if (!json || json.length > MAX_ATTRIBUTES_JSON) {
    throw badInput(`attributes must be a JSON object of at most ${MAX_ATTRIBUTES_JSON} characters`, { field: 'attributes' });
  }
  return json;
}

const pgTags = (tags: string[] | null) => (tags ? `{${tags.map((t) => JSON.stringify(t)).join(',')}}` : null);

function checkText(value: string | null | undefined, field: string, max: number): void {
  if (value != null && (value.length > max || (field === 'externalId' && !value.trim()))) {
    throw badInput(`${field} must be 1 to ${max} characters`, { field });
  }
}

export function toMember(row: any): MemberRecord {
  return {
    id: row.id,
    programId: row.program_id,
    externalId: row.external_id,
    email: row.email,
    phone: row.phone,
    name: row.name,
    birthday: row.birthday ? formatDate(row.birthday) : null,
    status: row.status,
    tags: row.tags ?? [],
    registeredAt: new Date(row.registered_at),
    referrerId: row.referrer_id ?? null,
    attributes: row.attributes ?? {},
  };
}

function formatDate(value: unknown): string {
  if (typeof value === 'string') return value.slice(0, 10);
  const d = value as Date;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Resolves any of the ways a shop names a member to a where-clause. */
export function memberRefColumn(ref: MemberRef): [string, string] {
  // Not a uuid: no such member (rather than a database error).
  if ('id' in ref) {
    if (!isUuid(ref.id)) throw notFound('Member', { member: ref });
    return ['id', ref.id];
  }
  if ('externalId' in ref) return ['external_id', ref.externalId];
  if ('email' in ref) return ['email', normalizeEmail(ref.email)];
  return ['phone', normalizePhone(ref.phone)];
}

/** Members and their accounts: registration (idempotent by the shop's id), lookup, freezing. */
export class MemberService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly onRegistered?: RegistrationHook,
  ) {}

  async upsert(programId: string, input: UpsertMemberInput): Promise<UpsertMemberResult> {
    checkText(input.externalId, 'externalId', 200);
    checkText(input.name, 'name', 200);
    const email = input.email ? normalizeEmail(input.email) : null;
    const phone = input.phone ? normalizePhone(input.phone) : null;
    const birthday = input.birthday ? checkBirthday(input.birthday) : null;
    const tags = input.tags ?? null;
    if (tags && (tags.length > 50 || tags.some((t) => !t || t.length > 50))) {
      throw badInput('tags: at most 50 tags of 1 to 50 characters', { field: 'tags' });
    }
    const attributes = input.attributes == null ? null : checkAttributes(input.attributes);
    checkText(input.referrerExternalId, 'referrerExternalId', 200);
    if (input.referrerExternalId != null && input.referrerExternalId === input.externalId) {
      throw badInput('A member cannot refer themselves', { field: 'referrerExternalId' });
    }
    const now = this.clock.now();
    const registered: { afterCommit?: (() => void) | void } = {};
    const result = await this.db.transaction(async (tx) => {
      registered.afterCommit = undefined;
      const referrerId = input.referrerExternalId ? await this.referrerId(tx, programId, input.referrerExternalId) : null;
      let row: any;
      try {
        // Fields left out keep their value; an upsert with the same input changes nothing.
        // The referrer is set only on insert: binding it later could close a cycle in the tree.
        [row] = await tx.execute(
          `insert into member as m (id, program_id, external_id, email, phone, name, birthday, tags, registered_at, updated_at,
             referrer_id, attributes)
           values (?, ?, ?, ?, ?, ?, ?::date, coalesce(?::text[], '{}'), ?, ?, ?, coalesce(?::jsonb, '{}'))
           on conflict (program_id, external_id) do update set
             email = coalesce(excluded.email, m.email), phone = coalesce(excluded.phone, m.phone),
             name = coalesce(excluded.name, m.name), birthday = coalesce(excluded.birthday, m.birthday),
             tags = case when ?::text[] is null then m.tags else excluded.tags end,
             attributes = case when ?::jsonb is null then m.attributes else excluded.attributes end,
             updated_at = excluded.updated_at
           returning m.*, (xmax = 0) as created`,
          [randomUUID(), programId, input.externalId, email, phone, input.name ?? null, birthday, pgTags(tags),
            input.registeredAt ?? now, now, referrerId, attributes, pgTags(tags), attributes],
        );
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new PatronError(ErrorCode.CONFLICT, 'Another member already has this e-mail or phone', {
            field: String((error as Error).message).includes('email') ? 'email' : 'phone',
          });
        }
        throw error;
      }
      const member = toMember(row);
      if (row.created) {
        await tx.execute(
          `insert into account (id, program_id, member_id, updated_at) values (?, ?, ?, ?)`,
          [randomUUID(), programId, row.id, now],
        );
        registered.afterCommit = await this.onRegistered?.(tx, member);
      }
      return { member, created: Boolean(row.created) };
    });
    registered.afterCommit?.();
    return result;
  }

  private async referrerId(tx: Sql, programId: string, externalId: string): Promise<string> {
    const [row] = await tx.execute('select id from member where program_id = ? and external_id = ?', [programId, externalId]);
    if (!row) throw badInput('No member has this referrerExternalId', { field: 'referrerExternalId' });
    return row.id;
  }

  async setStatus(programId: string, ref: MemberRef, status: MemberStatus): Promise<MemberRecord> {
    const [column, value] = memberRefColumn(ref);
    const [row] = await this.db.execute(
      `update member set status = ?::member_status, updated_at = ? where program_id = ? and ${column} = ? returning *`,
      [status, this.clock.now(), programId, value],
    );
    if (!row) throw notFound('Member', { member: ref });
    return toMember(row);
  }

  async find(programId: string, ref: MemberRef, em?: Sql): Promise<MemberRecord | null> {
    if ('id' in ref && !isUuid(ref.id)) return null;
    const [column, value] = memberRefColumn(ref);
    const [row] = await (em ?? this.db).execute(
      `select * from member where program_id = ? and ${column} = ?`,
      [programId, value],
    );
    return row ? toMember(row) : null;
  }

  async get(programId: string, ref: MemberRef): Promise<MemberRecord> {
    const member = await this.find(programId, ref);
    if (!member) throw notFound('Member', { member: ref });
    return member;
  }
}
