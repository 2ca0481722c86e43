import { statement, type Statement } from '../../db/statement';
import type { MemberStatus } from '../../entities/member';

/**
 * The members module's SQL. Members stay on typed SQL (not the ORM): a member is registered in
 * the same transaction as its account and its welcome bonus.
 */

/** A `member` row as the statements below return it. */
export interface MemberRow {
  id: string;
  program_id: string;
  external_id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  /** A `date` column: pg reads it as a local-midnight Date. */
  birthday: Date | string | null;
  status: MemberStatus;
  tags: string[];
  registered_at: Date;
  updated_at: Date;
  referrer_id: string | null;
  attributes: Record<string, unknown>;
}

/** How a caller names a member: our id, or the shop's id, e-mail or phone. */
export type MemberKey = 'id' | 'external_id' | 'email' | 'phone';

const MEMBER_COLUMNS = `id, program_id, external_id, email, phone, name, birthday, status, tags, registered_at, updated_at,
  referrer_id, attributes`;

/**
 * Registers a member or updates the one with this external id. Tags go as a real `text[]`
 * parameter (the driver quotes each element), never as a hand-built array literal. Fields left out (null) keep
 * their value, so the same input twice changes nothing; the referrer is set only on insert
 * (binding it later could close a cycle in the tree). `created` tells the two apart.
 */
export const upsertMember = statement<
  [id: string, programId: string, externalId: string, email: string | null, phone: string | null, name: string | null,
    birthday: string | null, tags: string[] | null, registeredAt: Date, now: Date, referrerId: string | null,
    attributes: string | null, clear: string],
  MemberRow & { created: boolean }
>(
  'members.upsert',
  `insert into member as m (id, program_id, external_id, email, phone, name, birthday, tags, registered_at, updated_at,
     referrer_id, attributes)
   values ($1, $2, $3, $4, $5, $6, $7::date, coalesce($8::text[], '{}'), $9, $10, $11, coalesce($12::jsonb, '{}'))
   on conflict (program_id, external_id) do update set
     email = case when 'email' = any($13::text[]) then null else coalesce(excluded.email, m.email) end,
     phone = case when 'phone' = any($13::text[]) then null else coalesce(excluded.phone, m.phone) end,
     name = case when 'name' = any($13::text[]) then null else coalesce(excluded.name, m.name) end,
     birthday = case when 'birthday' = any($13::text[]) then null else coalesce(excluded.birthday, m.birthday) end,
     tags = case when $8::text[] is null then m.tags else excluded.tags end,
     attributes = case when $12::jsonb is null then m.attributes else excluded.attributes end,
     updated_at = excluded.updated_at
   returning m.*, (xmax = 0) as created`,
);

const findBy = (key: MemberKey) =>
  statement<[programId: string, value: string], MemberRow>(
    `members.find_by_${key}`,
    `select ${MEMBER_COLUMNS} from member where program_id = ? and ${key} = ?`,
  );

const setStatusBy = (key: MemberKey) =>
  statement<[status: MemberStatus, now: Date, programId: string, value: string], MemberRow>(
    `members.set_status_by_${key}`,
    `update member set status = ?::member_status, updated_at = ? where program_id = ? and ${key} = ?
     returning ${MEMBER_COLUMNS}`,
  );

/** One statement per way of naming a member, so each is planned with its own index. */
export const findMember: Record<MemberKey, Statement<[programId: string, value: string], MemberRow>> = {
  id: findBy('id'),
  external_id: findBy('external_id'),
  email: findBy('email'),
  phone: findBy('phone'),
};

export const setMemberStatus: Record<MemberKey, Statement<[status: MemberStatus, now: Date, programId: string, value: string], MemberRow>> = {
  id: setStatusBy('id'),
  external_id: setStatusBy('external_id'),
  email: setStatusBy('email'),
  phone: setStatusBy('phone'),
};

/**
 * The program's region for phone numbers written without a country code (its
 * `phoneDefaultRegion` setting, written by the programs module).
 */
export const programPhoneRegion = statement<[programId: string], { phone_default_region: string }>(
  'members.program_phone_region',
  `select phone_default_region from program where id = ?`,
);
