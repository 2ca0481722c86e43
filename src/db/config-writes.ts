import { FlushMode, type EntityData, type EntityManager, type FilterQuery, type MikroORM } from '@mikro-orm/postgresql';

/**
 * How configuration entities (programs, keys, rules) are read and written: through a forked
 * EntityManager, with their invariants in the entity — but without MikroORM's flush() and
 * transactional(). Both run an AsyncLocalStorage, and on Node 20 the first run turns promise
 * hooks on for the whole process for as long as it lives: every promise of every request then
 * pays for an async id and a context copy, about a fifth of the server's CPU on a balance read.
 * So a use case writes what it changed itself, with em.insert and storeChanges, and opens its
 * transaction on the connection (test/e2e/promise-hooks.test.ts holds the process to it).
 */
export function configEntities(orm: MikroORM): EntityManager {
  // COMMIT: a find never flushes an entity changed before it (there is no flush to run).
  return orm.em.fork({ flushMode: FlushMode.COMMIT });
}

/** `work` in one transaction, with an EntityManager whose queries and writes join it. */
export function inConfigTransaction<T>(orm: MikroORM, work: (em: EntityManager) => Promise<T>): Promise<T> {
  return orm.em.getConnection().transactional(async (trx) => {
    const em = configEntities(orm);
    em.setTransactionContext(trx);
    return work(em);
  });
}

/**
 * Stores what an entity's own methods changed: the named properties, by the entity's id — and
 * `where`, a condition the row must still meet. Says how many rows it wrote (0 or 1).
 */
export function storeChanges<T extends { id: string }>(
  em: EntityManager,
  entity: T,
  properties: ReadonlyArray<keyof T & string>,
  where: Record<string, unknown> = {},
): Promise<number> {
  const data = Object.fromEntries(properties.map((property) => [property, entity[property]]));
  return em.nativeUpdate(entity.constructor as new () => T, { ...where, id: entity.id } as FilterQuery<T>, data as EntityData<T>);
}
