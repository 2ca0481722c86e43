import { Client } from 'pg';
import { declaredStatements } from '../../src/db/statement';
import '../../src/services/earning';
import { createTestDatabase, type TestDatabase } from '../support/database';

// The earning module's statements, prepared against the migrated schema: a migration that
// breaks one (or a parameter whose type PostgreSQL cannot tell) fails here, beside the query.
let db: TestDatabase;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await db.drop();
});

const ours = declaredStatements().filter((s) => s.name.startsWith('earning.') || s.name.startsWith('events.'));

test('the earning and event stores declare their statements', () => {
  expect(ours.map((s) => s.name)).toEqual(
    expect.arrayContaining(['earning.lock_referrer_accounts', 'earning.claim_for_rules', 'earning.cap_usage', 'events.insert_event', 'events.birthday_members']),
  );
});

test.each(ours.map((s) => [s.name, s] as const))('%s prepares against the schema', async (_name, statement) => {
  await client.query(`prepare earning_check as ${statement.text}`);
  await client.query('deallocate earning_check');
});
