import { randomUUID } from 'node:crypto';
import { ParseError, parsePhoneNumberWithError, type CountryCode, type PhoneNumber } from 'libphonenumber-js';
import type { Database, Sql } from '../../db/database';
import type { Queryable } from '../../db/statement';
import { MemberStatus } from '../../entities/member';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';
import type { Clock, MemberRef, RequestContext } from '../shared';
import { checkPastDate, isUuid, pgArray, raise } from '../shared';
import { MEMBER_TOPIC, MemberEvent } from './member-events';
import { contactBeforeUpsert, recordContactChange } from './contact-changes';
import { findMember, programPhoneRegion, setMemberStatus, upsertMember, type MemberKey, type MemberRow } from './member-store';

export type { MemberKey } from './member-store';

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
  /** Fields to empty on an existing member: a field left out (or null) keeps what it holds. */
  clear?: MemberField[] | null;
}

/** The member's fields upsertMember can empty (tags and attributes are emptied by giving none). */
export enum MemberField {
  EMAIL = 'email',
  PHONE = 'phone',
  NAME = 'name',
  BIRTHDAY = 'birthday',
}

/**
 * Work that joins the transaction registering a member (e.g. the registration event and its
 * welcome bonus); the function it returns runs after commit (e.g. publishing balance changes).
 */

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

/**
 * A phone number in E.164. A number with its country code (`+1 415 555 2671`) reads the same
 * everywhere; one without (`(415) 555-2671`, `8 912 345-67-89`) is read as a number of `region`,
 * the program's `phoneDefaultRegion`. Without a region such a number is refused rather than
 * guessed. A number that cannot be a phone number there is BAD_USER_INPUT naming `field`.
 */
export function normalizePhone(phone: string, region: string | null, field = 'phone'): string {
  return internationalPhone(phone, field) ?? nationalPhone(phone, region, field);
}

function nationalPhone(phone: string, region: string | null, field: string): string {
  if (!region) {
    throw badInput(`${field} has no country code: give it as +<country code> <number>`, { field });
  }
  let parsed: PhoneNumber | undefined;
  try {
    parsed = parsePhoneNumberWithError(phone.trim(), { defaultCountry: region as CountryCode });
  } catch {
    // not a number: refused below
  }
  if (parsed?.isPossible()) return withoutExtension(parsed, field);
  throw badInput(`${field} is not a valid phone number of region ${region}`, { field, region });
}

/**
 * The number in E.164 when it carries its country code; null when it has none (it needs a
 * region); BAD_USER_INPUT when it cannot be a phone number at all.
 */
function internationalPhone(phone: string, field: string): string | null {
  let parsed: PhoneNumber | undefined;
  try {
    parsed = parsePhoneNumberWithError(phone.trim());
  } catch (error) {
    if (error instanceof ParseError && error.message === 'INVALID_COUNTRY') return null;
  }
  if (parsed?.isPossible()) return withoutExtension(parsed, field);
  throw badInput(`${field} is not a valid phone number`, { field });
}

/**
 * E.164 has no room for an extension: storing the number without it would make two members
 * who differ only in the extension one, so a number with one is refused.
 */
function withoutExtension(parsed: PhoneNumber, field: string): string {
  if (parsed.ext) {
    throw badInput(`${field} has an extension (${parsed.ext}): give the number without it; an extension cannot be stored`, { field });
  }
  return parsed.number;
}

/**
 * A phone number in E.164, a national one read in the program's `phoneDefaultRegion` (looked
 * up only then, on `sql`: the pool or the caller's transaction).
 */
export async function readPhone(sql: Queryable, programId: string, phone: string, field = 'phone'): Promise<string> {
  const international = internationalPhone(phone, field);
  if (international) return international;
  const [program] = await sql.run(programPhoneRegion, [programId]);
  return nationalPhone(phone, program?.phone_default_region ?? null, field);
}

/** The earliest birthday and registration date a member may have. */
const EARLIEST_MEMBER_DATE = new Date('1900-01-01T00:00:00Z');
/** The furthest east time zone (UTC+14): its today is the latest today anywhere. */
const LATEST_OFFSET_MS = 14 * 3_600_000;

function checkBirthday(birthday: string, now: Date): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthday);
  const date = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  if (!m || !date || date.getUTCDate() !== +m[3] || date.getUTCMonth() !== +m[2] - 1 || date < EARLIEST_MEMBER_DATE) {
    throw badInput('birthday must be a date YYYY-MM-DD from 1900-01-01', { field: 'birthday' });
  }
  // Today somewhere on Earth is the latest a birthday can be: the member's time zone is not known.
  if (birthday > new Date(now.getTime() + LATEST_OFFSET_MS).toISOString().slice(0, 10)) {
    throw badInput('birthday must not be in the future', { field: 'birthday' });
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

function checkText(value: string | null | undefined, field: string, max: number): void {
  if (value != null && (value.length > max || (field === 'externalId' && !value.trim()))) {
    throw badInput(`${field} must be 1 to ${max} characters`, { field });
  }
}

export function toMember(row: MemberRow): MemberRecord {
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

/**
 * Resolves any of the ways a shop names a member to a column and the value to look for.
 * A phone is read in `phoneRegion` when it has no country code; without a region only a
 * number with its country code is accepted. {@link memberLookup} knows the program's region.
 */
export function memberRefColumn(ref: MemberRef, phoneRegion: string | null = null): [MemberKey, string] {
  // Not a uuid: no such member (rather than a database error).
  if ('id' in ref) {
    if (!isUuid(ref.id)) throw notFound('Member', { member: ref });
    return ['id', ref.id];
  }
  if ('externalId' in ref) return ['external_id', ref.externalId];
  if ('email' in ref) return ['email', normalizeEmail(ref.email)];
  return ['phone', normalizePhone(ref.phone, phoneRegion)];
}

/**
 * {@link memberRefColumn} for a member of `programId`: a phone without a country code is read in
 * the program's `phoneDefaultRegion` (one primary-key read, only for such a phone), as members
 * were registered with it.
 */
export async function memberLookup(sql: Queryable, programId: string, ref: MemberRef): Promise<[MemberKey, string]> {
  if ('phone' in ref) return ['phone', await readPhone(sql, programId, ref.phone)];
  return memberRefColumn(ref);
}

const MEMBER_FIELDS: readonly string[] = Object.values(MemberField);

/** What `clear` names, each once; a field both given a value and cleared is refused. */
function fieldsToClear(input: UpsertMemberInput): MemberField[] {
  const clear = [...new Set(input.clear ?? [])];
  const unknown = clear.find((field) => !MEMBER_FIELDS.includes(field));
  if (unknown !== undefined) throw badInput(`clear takes ${MEMBER_FIELDS.join(', ')}, not ${JSON.stringify(unknown)}`, { field: 'clear' });
  // An empty text gives no value (as everywhere in this input), so it may be cleared.
  const given = clear.find((field) => input[field] != null && input[field] !== '');
  if (given) throw badInput(`clear names ${given}, which the input also gives a value: give it, or clear it`, { field: 'clear' });
  return clear;
}

/** Members and their accounts: registration (idempotent by the shop's id), lookup, freezing. */
export class MemberService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async upsert(ctx: RequestContext, input: UpsertMemberInput): Promise<UpsertMemberResult> {
    const { programId } = ctx;
    checkText(input.externalId, 'externalId', 200);
    checkText(input.name, 'name', 200);
    const email = input.email ? normalizeEmail(input.email) : null;
    const phone = input.phone ? await readPhone(this.db, programId, input.phone) : null;
    const now = this.clock.now();
    const birthday = input.birthday ? checkBirthday(input.birthday, now) : null;
    const registeredAt = input.registeredAt == null ? now : checkPastDate(input.registeredAt, 'registeredAt', now, EARLIEST_MEMBER_DATE);
    // A tag is there or not: one given twice is kept once, in the order first given.
    const tags = input.tags ? [...new Set(input.tags)] : null;
    if (tags && (tags.length > 50 || tags.some((t) => !t || t.length > 50))) {
      throw badInput('tags: at most 50 tags of 1 to 50 characters', { field: 'tags' });
    }
    const attributes = input.attributes == null ? null : checkAttributes(input.attributes);
    checkText(input.referrerExternalId, 'referrerExternalId', 200);
    if (input.referrerExternalId != null && input.referrerExternalId === input.externalId) {
      throw badInput('A member cannot refer themselves', { field: 'referrerExternalId' });
    }
    const clear = fieldsToClear(input);
    const touchesContact = email != null || phone != null || clear.includes(MemberField.EMAIL) || clear.includes(MemberField.PHONE);
    const result = await this.db.transaction(async (tx) => {
      const referrerId = input.referrerExternalId ? await this.referrerId(tx, programId, input.referrerExternalId) : null;
      const contactBefore = await contactBeforeUpsert(tx, programId, input.externalId, touchesContact);
      let row: MemberRow & { created: boolean };
      try {
        [row] = await tx.run(upsertMember, [randomUUID(), programId, input.externalId, email, phone, input.name ?? null, birthday,
          tags, registeredAt, now, referrerId, attributes, pgArray(clear)]);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new PatronError(ErrorCode.CONFLICT, 'Another member already has this e-mail or phone', {
            field: String((error as Error).message).includes('email') ? 'email' : 'phone',
          });
        }
        throw error;
      }
      const member = toMember(row);
      await recordContactChange(tx, ctx, contactBefore, member, now);
      if (row.created) {
        // Hooks open the member's account and raise the registration event (a welcome bonus) with the member.
        await raise(tx, MemberEvent.REGISTERED, MEMBER_TOPIC, { programId, memberId: member.id }, member);
      }
      return { member, created: Boolean(row.created) };
    });
    if (result.created) ctx.logger.info({ memberId: result.member.id }, 'member registered');
    return result;
  }

  private async referrerId(tx: Sql, programId: string, externalId: string): Promise<string> {
    const [row] = await tx.run(findMember.external_id, [programId, externalId]);
    if (!row) throw badInput('No member has this referrerExternalId', { field: 'referrerExternalId' });
    return row.id;
  }

  async setStatus(ctx: RequestContext, ref: MemberRef, status: MemberStatus): Promise<MemberRecord> {
    const [key, value] = await memberLookup(this.db, ctx.programId, ref);
    const [row] = await this.db.run(setMemberStatus[key], [status, this.clock.now(), ctx.programId, value]);
    if (!row) throw notFound('Member', { member: ref });
    return toMember(row);
  }

  /** A member of the caller's program, or null. */
  find(ctx: RequestContext, ref: MemberRef): Promise<MemberRecord | null> {
    return this.findIn(this.db, ctx.programId, ref);
  }

  async get(ctx: RequestContext, ref: MemberRef): Promise<MemberRecord> {
    const member = await this.find(ctx, ref);
    if (!member) throw notFound('Member', { member: ref });
    return member;
  }

  /** For other modules inside their transaction: a member of the program, or null. */
  async findIn(sql: Queryable, programId: string, ref: MemberRef): Promise<MemberRecord | null> {
    if ('id' in ref && !isUuid(ref.id)) return null;
    const [key, value] = await memberLookup(sql, programId, ref);
    const [row] = await sql.run(findMember[key], [programId, value]);
    return row ? toMember(row) : null;
  }
}
