import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Program } from '../../entities/program';

/**
 * Where programs are kept: MikroORM entities, read and written through the EntityManager a use
 * case runs on (see src/db/config-writes.ts).
 */

/**
 * Locks the program's row for the transaction. An order being placed holds a key-share lock on
 * it (its foreign key) until it commits, so this waits for those, and orders wait for this.
 */
export function lockProgram(em: EntityManager, programId: string): Promise<Program | null> {
  return em.findOne(Program, { id: programId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
}

/** Whether the program has any order (paid or not). */
export async function programHasOrders(em: EntityManager, programId: string): Promise<boolean> {
  const [row] = await em.execute<Array<{ orders: boolean }>>('select exists (select 1 from shop_order where program_id = ?) as orders', [programId]);
  return row.orders;
}
