import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TEMPLATE_DB, withDatabase } from './template';

function serverUrl(): string {
  const url = process.env.PATRON_TEST_SERVER_URL;
  if (!url) throw new Error('PATRON_TEST_SERVER_URL is unset: run the tests through jest (globalSetup)');
  return url;
}

async function admin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: withDatabase(serverUrl(), 'postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of the suite's own, copied from the template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `patron_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${TEMPLATE_DB}`));
  return {
    url: withDatabase(serverUrl(), name),
    drop: () => admin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}
