/** What the raw-SQL baselines share: their own connections, and a transaction on one of them. */
import { Client } from 'pg';

/** `count` raw `pg` connections (one per client of a row), and how to end them. */
export async function openConnections(databaseUrl: string, count: number, applicationName: string): Promise<{ conns: Client[]; close: () => Promise<void> }> {
  const conns = await Promise.all(
    Array.from({ length: count }, async () => {
      const c = new Client({ connectionString: databaseUrl, application_name: applicationName });
      await c.connect();
      return c;
    }),
  );
  return { conns, close: async () => void (await Promise.all(conns.map((c) => c.end().catch(() => undefined)))) };
}

/** `work` between BEGIN and COMMIT on `c`; rolled back when it throws. */
export async function inTransaction(c: Client, work: () => Promise<void>): Promise<void> {
  await c.query('BEGIN');
  try {
    await work();
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
