import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey, ApiKeyRole } from '../../entities/api-key';
import { statement } from '../../db/statement';
import type { Statement } from '../../db/statement';

/**
 * The access module's storage. API keys are MikroORM entities (read and written through an
 * EntityManager); the statements below are what an entity cannot say, and the customer-token
 * generations read on every customer request.
 */

/** Serializes first starts of several instances: one of them creates the default program and key. */
const bootstrapLock = statement<[]>('access.bootstrap_lock', `select pg_advisory_xact_lock(hashtext('patron:bootstrap'))`);

/**
 * A secret shared by all instances (`customer_token_secret`, `customer_id_secret`): the first to
 * ask stores its candidate, everyone reads the stored one.
 */
export const claimServerSecret = statement<[key: string, candidate: string], { value: string }>(
  'access.claim_server_secret',
  `with claimed as (
     insert into server_setting (key, value) values ($1, $2) on conflict (key) do nothing returning value
   )
   select value from claimed
   union all
   select value from server_setting where key = $1
   limit 1`,
);

/** The generation a member's customer tokens must carry: none stored means 0 (never revoked). */
export const customerTokenGeneration = statement<[memberId: string], { generation: number }>(
  'access.customer_token_generation',
  `select generation from customer_token_revocation where member_id = ?`,
);

/** Revokes every customer token of a member issued so far: raises the generation they must carry. */
export const revokeCustomerTokens = statement<[memberId: string, programId: string, now: Date, revokedBy: string], { generation: number }>(
  'access.revoke_customer_tokens',
  `insert into customer_token_revocation as r (member_id, program_id, generation, revoked_at, revoked_by) values (?, ?, 1, ?, ?)
   on conflict (member_id) do update set generation = r.generation + 1, revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by
   returning generation`,
);

/**
 * Runs a declared statement on the EntityManager's connection, inside its transaction: `$n`
 * placeholders become the driver's `?` in order, so the statement reads the same both ways.
 */
async function runOn<P extends readonly unknown[], R>(em: EntityManager, stmt: Statement<P, R>, params: P): Promise<R[]> {
  const values: unknown[] = [];
  const sql = stmt.text.replace(/\$(\d+)/g, (_, n: string) => {
    values.push(params[Number(n) - 1]);
    return '?';
  });
  return em.execute<R[]>(sql, values);
}

/** Takes the bootstrap lock in the EntityManager's transaction (released at commit). */
export async function lockBootstrap(em: EntityManager): Promise<void> {
  await runOn(em, bootstrapLock, []);
}

/** A live (unrevoked) key by its secret's hash. */
export function findLiveKey(em: EntityManager, secretHash: string): Promise<ApiKey | null> {
  return em.findOne(ApiKey, { secretHash, revokedAt: null });
}

/** A key by its secret's hash, revoked or not (the hash is unique). */
export function findKey(em: EntityManager, secretHash: string): Promise<ApiKey | null> {
  return em.findOne(ApiKey, { secretHash });
}

/** The installation's operator key that is still live, if any. */
export function findOperatorKey(em: EntityManager): Promise<ApiKey | null> {
  return em.findOne(ApiKey, { operator: true, revokedAt: null });
}

/**
 * A page of the program's keys, oldest first: `limit` keys after the one `afterId` names (a key
 * of the same program), or from the first.
 */
export function findKeysPage(em: EntityManager, programId: string, afterId: string | null, limit: number): Promise<ApiKey[]> {
  const qb = em.createQueryBuilder(ApiKey, 'k').select('*').where({ program: programId });
  if (afterId) {
    qb.andWhere('(k.created_at, k.id) > (select c.created_at, c.id from api_key c where c.id = ? and c.program_id = ?)', [afterId, programId]);
  }
  return qb.orderBy({ createdAt: 'asc', id: 'asc' }).limit(limit).getResultList();
}

/** Whether the program has a key with this id. */
export async function hasKey(em: EntityManager, programId: string, id: string): Promise<boolean> {
  return (await em.count(ApiKey, { id, program: programId })) > 0;
}

/** How many live admin keys the key's program has besides this one. */
export function countOtherLiveAdminKeys(em: EntityManager, key: ApiKey): Promise<number> {
  return em.count(ApiKey, { program: key.program.id, role: ApiKeyRole.ADMIN, revokedAt: null, id: { $ne: key.id } });
}
