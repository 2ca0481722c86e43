import { randomUUID } from 'node:crypto';
import { Database } from '../../src/db/database';
import { statement } from '../../src/db/statement';
import { idempotentTransaction, once } from '../../src/services/shared';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * `idempotentTransaction` sends its work beside the key's turn. A replay then abandons the work:
 * it never acts on what its statements answered, nor on how they failed, and nothing it sent is
 * kept. `once`, inside a transaction that does more, waits for the turn, so a replay there
 * leaves the rest of the transaction alone.
 */
let db: TestDatabase;
let database: Database;
const programId = randomUUID();

const insertNote = statement<[text: string], never>('once_test.insert_note', 'insert into once_note (text) values (?)');
const failing = statement<[], never>('once_test.failing', 'select 1 / 0');
const notes = statement<[], { text: string }>('once_test.notes', 'select text from once_note order by id');

beforeAll(async () => {
  db = await createTestDatabase();
  database = new Database(db.url, 2);
  await database.execute('create table once_note (id serial primary key, text text not null)');
});
afterAll(async () => {
  await database.close();
  await db.drop();
});
beforeEach(() => database.execute('truncate once_note'));

const call = (key: string) => ({ programId, key, operation: 'test', input: { n: 1 }, revive: (json: unknown) => json as string });
const kept = async () => (await database.run(notes, [])).map((n) => n.text);

test('a replayed key abandons the work: a failure behind the turn is not given to it, and nothing it sent is kept', async () => {
  const key = `k-${randomUUID()}`;
  await idempotentTransaction(database, call(key), async (tx) => {
    await tx.run(insertNote, ['first']);
    return 'first answer';
  });
  const seen: string[] = [];
  const replayed = await idempotentTransaction(database, call(key), async (tx) => {
    tx.write(insertNote, ['queued by the replay']);
    try {
      await tx.run(failing, []);
    } catch (error) {
      seen.push(`caught: ${(error as Error).message}`);
    }
    seen.push('went on');
    return 'second answer';
  });
  expect({ replayed, seen, kept: await kept() }).toEqual({ replayed: 'first answer', seen: [], kept: ['first'] });
});

test('once inside a transaction that does more: a replayed key answers and the rest of the transaction goes on and commits', async () => {
  const key = `k-${randomUUID()}`;
  await idempotentTransaction(database, call(key), async () => 'stored');
  let ran = false;
  const result = await database.transaction(async (tx) => {
    await tx.run(insertNote, ['before']);
    const answer = await once(tx, call(key), async () => {
      ran = true;
      return 'not stored';
    });
    await tx.run(insertNote, [`after, with ${answer}`]);
    return answer;
  });
  expect({ result, ran, kept: await kept() }).toEqual({ result: 'stored', ran: false, kept: ['before', 'after, with stored'] });
});
