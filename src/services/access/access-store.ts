import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey } from '../../entities/api-key';
import { statement } from '../../db/statement';
import type { Statement } from '../../db/statement';

/**
 * The access module's storage. API keys are MikroORM entities (read and written through an
 * EntityManager); the two statements below are what an entity cannot say.
 */

/** Serializes first starts of several instances: one of them creates the default program and key. */
const bootstrapLock = statement<[]>('access.bootstrap_lock', `select pg_advisory_xact_lock(hashtext('patron:bootstrap'))`);

/** The customer-token secret shared by all instances: the first to ask stores one, everyone reads it. */
export const claimTokenSecret = statement<[candidate: string], { value: string }>(
  'access.claim_token_secret',
  `with claimed as (
     insert into server_setting (key, value) values ('customer_token_secret', ?) on conflict (key) do nothing returning value
   )
   select value from claimed
   union all
   select value from server_setting where key = 'customer_token_secret'
   limit 1`,
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
