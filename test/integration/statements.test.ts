import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { declaredStatements, statement, type Statement } from '../../src/db/statement';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Every declared statement parses and plans against the migrated schema: a migration that
 * breaks a query fails here, with the statement's name, instead of at run time far from it.
 */

const root = path.resolve(__dirname, '..', '..');

/** The stores: src/services/<module>/*-store.ts and src/db/*-store.ts. */
function storeFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('-store.ts')) found.push(file);
    }
  };
  walk(path.join(root, 'src', 'services'));
  found.push(...readdirSync(path.join(root, 'src', 'db')).filter((f) => f.endsWith('-store.ts')).map((f) => path.join(root, 'src', 'db', f)));
  return found.sort();
}

/** PREPAREs each statement under its own name in one rolled-back transaction; returns what failed. */
async function prepareAll(client: Client, statements: readonly Statement[]): Promise<string[]> {
  const failures: string[] = [];
  await client.query('begin');
  try {
    for (const s of statements) {
      await client.query('savepoint prepare_check');
      try {
        await client.query(`prepare "${s.name}" as ${s.text}`);
        await client.query(`deallocate "${s.name}"`);
        await client.query('release savepoint prepare_check');
      } catch (error) {
        failures.push(`${s.name}: ${(error as Error).message}`);
        await client.query('rollback to savepoint prepare_check');
      }
    }
  } finally {
    await client.query('rollback');
  }
  return failures;
}

let db: TestDatabase;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

test('every statement the stores declare prepares against the schema', async () => {
  const files = storeFiles();
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) await import(file);
  const statements = declaredStatements();
  // The configuration modules' stores, at least, are among them.
  const names = statements.map((s) => s.name);
  expect(names).toEqual(expect.arrayContaining(['members.upsert', 'members.find_by_external_id', 'earning.engine_rules', 'access.bootstrap_lock',
    'orders.lock_order', 'orders.read_spender_by_phone', 'tiers.downgrade_spend', 'tiers.apply_requalification_points', 'tiers.lock_member_by_email']));
  expect(await prepareAll(client, statements)).toEqual([]);
});

test('a statement that does not fit the schema is reported by its name', async () => {
  const broken = statement<[string]>('check.broken_statement', 'select no_such_column from member where id = ?');
  const failures = await prepareAll(client, [broken]);
  expect(failures).toEqual([expect.stringMatching(/^check\.broken_statement: column "no_such_column" does not exist/)]);
});
