import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

/**
 * One transaction on a fresh EntityManager. A deadlock or serialization failure is retried
 * from the start: the work must not have effects outside the transaction before it commits.
 */
export async function transaction<T>(orm: MikroORM, work: (tx: EntityManager) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await orm.em.fork().transactional((tx) => work(tx as EntityManager));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw error;
    }
  }
}
