import net from 'node:net';
import { Database } from '../../src/db/database';
import { statement } from '../../src/db/statement';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTcpProxy } from '../support/tcp-proxy';

/**
 * A unit of work runs on a pipelined connection: BEGIN goes out with the first statement, and
 * writes queued with `tx.write` go out with the next statement the work waits for, or with
 * COMMIT. These tests hold it to a plain transaction's guarantees: order, all or nothing, the
 * failure that says what went wrong, retries of conflicts, and a connection left healthy.
 */

let db: TestDatabase;
let database: Database;

const insertNote = statement<[id: number, text: string], never>('uow_test.insert_note', 'insert into uow_note (id, text) values (?, ?)');
const insertOtherNote = statement<[id: number, text: string], never>('uow_test.insert_other_note', 'insert into uow_note (id, text) values (?, ?)');
const failWith = statement<[sqlstate: string], never>('uow_test.fail_with', 'select uow_fail(?)');
const notes = statement<[], { id: number; text: string }>('uow_test.notes', 'select id, text from uow_note order by id');

beforeAll(async () => {
  db = await createTestDatabase();
  database = new Database(db.url, 2);
  await database.execute(`create table uow_note (id int primary key, text text not null)`);
  await database.execute(`create function uow_fail(sqlstate text) returns void language plpgsql as $$
    begin raise exception 'failed on purpose' using errcode = sqlstate; end $$`);
});
afterAll(async () => {
  await database.close();
  await db.drop();
});
beforeEach(() => database.execute('truncate uow_note'));

const committedNotes = async () => (await database.run(notes, [])).map((n) => `${n.id}:${n.text}`);

test('queued writes run in order before the next statement, which sees them; COMMIT takes them all', async () => {
  const seen = await database.transaction(async (tx) => {
    tx.write(insertNote, [1, 'first']);
    tx.write(insertNote, [2, 'second']);
    const inside = (await tx.run(notes, [])).map((n) => n.text);
    tx.write(insertNote, [3, 'with the commit']);
    return inside;
  });
  expect(seen).toEqual(['first', 'second']);
  expect(await committedNotes()).toEqual(['1:first', '2:second', '3:with the commit']);
});

test('BEGIN travels with the first statement and queued writes with the next statement or COMMIT: two round trips, not six', async () => {
  const counter = await startTcpProxy(db.url);
  const counted = new Database(counter.url, 1);
  try {
    const unitOfWork = () =>
      counted.transaction(async (tx) => {
        tx.write(insertNote, [1, 'first']);
        tx.write(insertNote, [2, 'second']);
        const seen = await tx.run(notes, []);
        tx.write(insertNote, [3, `after seeing ${seen.length}`]);
      });
    // Connected, and every statement prepared on the connection, before counting.
    await unitOfWork();
    await counted.execute('truncate uow_note');
    counter.resetRoundTrips();
    await unitOfWork();
    expect({ roundTrips: counter.roundTrips(), notes: await committedNotes() }).toEqual({
      roundTrips: 2,
      notes: ['1:first', '2:second', '3:after seeing 2'],
    });
    // The same statements, each waited for: one round trip each, and COMMIT's.
    counter.resetRoundTrips();
    await counted.transaction(async (tx) => {
      for (const id of [4, 5]) await tx.run(insertNote, [id, 'waited for']);
      await tx.run(notes, []);
      await tx.run(insertNote, [6, 'waited for']);
    });
    expect(counter.roundTrips()).toBe(5);
    // Statements asked for together go out together, and run in the order asked: the read sees the insert.
    counter.resetRoundTrips();
    const seen = await counted.transaction(async (tx) => {
      const [, rows] = await Promise.all([tx.run(insertNote, [7, 'asked together']), tx.run(notes, [])]);
      return rows.length;
    });
    expect({ roundTrips: counter.roundTrips(), seen }).toEqual({ roundTrips: 2, seen: 7 });
  } finally {
    await counted.close();
    await counter.close();
  }
});

test('what a unit of work sends in one turn of the event loop leaves in one socket write: a write per round trip', async () => {
  const port = Number(new URL(db.url).port);
  const counted = new Database(db.url, 1);
  // Each _write or _writev of a socket is one system call (pg alone makes one per statement).
  const socketWrites: string[] = [];
  const prototype = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const original = { _write: prototype._write, _writev: prototype._writev };
  for (const method of ['_write', '_writev'] as const) {
    prototype[method] = function (this: net.Socket, ...args: unknown[]) {
      if (this.remotePort === port) socketWrites.push(method);
      return original[method].apply(this, args);
    };
  }
  const unitOfWork = () =>
    counted.transaction(async (tx) => {
      tx.write(insertNote, [1, 'first']);
      tx.write(insertNote, [2, 'second']);
      const [seen] = await Promise.all([tx.run(notes, []), tx.run(notes, [])]);
      tx.write(insertNote, [3, `after seeing ${seen.length}`]);
    });
  try {
    // Connected, and every statement prepared on the connection, before counting.
    await unitOfWork();
    await counted.execute('truncate uow_note');
    socketWrites.length = 0;
    await unitOfWork();
  } finally {
    Object.assign(prototype, original);
    await counted.close();
  }
  // BEGIN, two writes and two reads in one; the last write with COMMIT, a tick apart, in another.
  expect({ socketWrites: socketWrites.length, notes: await committedNotes() }).toEqual({
    socketWrites: 2,
    notes: ['1:first', '2:second', '3:after seeing 2'],
  });
});

test('the first statement, sent with BEGIN, is inside the transaction: a failure later rolls it back', async () => {
  await expect(
    database.transaction(async (tx) => {
      await tx.run(insertNote, [1, 'rolled back']);
      throw new Error('the work changed its mind');
    }),
  ).rejects.toThrow('the work changed its mind');
  expect(await committedNotes()).toEqual([]);
});

test('a queued write that fails fails the unit of work with its own error, at the next statement or at COMMIT', async () => {
  await database.run(insertNote, [1, 'already there']);
  const afterCommit: string[] = [];

  // Found at the next statement: its error, not "current transaction is aborted".
  const atNextStatement = await database
    .transaction(async (tx) => {
      tx.afterCommit(() => afterCommit.push('next'));
      tx.write(insertNote, [2, 'lost with the rest']);
      tx.write(insertNote, [1, 'duplicate']);
      tx.write(insertNote, [3, 'never runs']);
      await tx.run(notes, []);
      return 'went on';
    })
    .catch((error: { code?: string; constraint?: string }) => ({ code: error.code, constraint: error.constraint }));
  expect(atNextStatement).toEqual({ code: '23505', constraint: 'uow_note_pkey' });

  // Found at COMMIT: the commit is refused, nothing is kept.
  const atCommit = await database
    .transaction(async (tx) => {
      tx.afterCommit(() => afterCommit.push('commit'));
      await tx.run(insertNote, [4, 'lost with the rest']);
      tx.write(insertNote, [1, 'duplicate']);
    })
    .catch((error: { code?: string }) => ({ code: error.code }));
  expect(atCommit).toEqual({ code: '23505' });

  expect(afterCommit).toEqual([]);
  expect(await committedNotes()).toEqual(['1:already there']);
  // Both connections went back to the pool in a usable state.
  for (let i = 0; i < 4; i++) await database.transaction(async (tx) => tx.write(insertNote, [10 + i, 'after']));
  expect(await committedNotes()).toHaveLength(5);
});

test('a deadlock or serialization failure in a queued write is retried from the start; the failed attempt keeps nothing', async () => {
  let attempt = 0;
  await database.transaction(async (tx) => {
    attempt++;
    tx.write(insertNote, [attempt, `attempt ${attempt}`]);
    if (attempt === 1) tx.write(failWith, ['40001']);
    if (attempt === 2) tx.write(failWith, ['40P01']);
  });
  expect(attempt).toBe(3);
  expect(await committedNotes()).toEqual(['3:attempt 3']);
});

test('afterRollback runs once for each failed attempt, at a statement or at COMMIT, never on success; a throwing one hides nothing', async () => {
  const rolledBack: number[] = [];
  let attempt = 0;
  await database.transaction(async (tx) => {
    attempt++;
    const seen = attempt;
    tx.afterRollback(() => rolledBack.push(seen));
    tx.write(insertNote, [100 + attempt, `attempt ${attempt}`]);
    // The first attempt fails at its next statement, the second at COMMIT.
    if (attempt === 1) {
      tx.write(failWith, ['40001']);
      await tx.run(notes, []);
    }
    if (attempt === 2) tx.write(failWith, ['40P01']);
  });
  expect({ attempt, rolledBack }).toEqual({ attempt: 3, rolledBack: [1, 2] });

  const failed = await database
    .transaction(async (tx) => {
      tx.afterRollback(() => {
        throw new Error('the callback failed');
      });
      throw new Error('the work failed');
    })
    .catch((error: Error) => error.message);
  expect(failed).toBe('the work failed');
});

test('statements asked for together: the failure first on the wire is the one reported, whichever branch sent it', async () => {
  let attempt = 0;
  await database.transaction(async (tx) => {
    attempt++;
    await Promise.all([
      attempt === 1 ? tx.run(failWith, ['40P01']) : tx.run(notes, []),
      (async () => {
        tx.write(insertNote, [attempt, `attempt ${attempt}`]);
        return tx.run(notes, []);
      })(),
    ]);
  });
  // The deadlock, not the "transaction is aborted" of the branch behind it: retried once.
  expect(attempt).toBe(2);
  expect(await committedNotes()).toEqual(['2:attempt 2']);
});

test('writes still queued when the work throws are never committed', async () => {
  await expect(
    database.transaction(async (tx) => {
      tx.write(insertNote, [1, 'queued, never sent']);
      throw new Error('refused before any statement');
    }),
  ).rejects.toThrow('refused before any statement');
  expect(await committedNotes()).toEqual([]);
});

const idleInTransaction = async () =>
  Number(
    (await database.execute(`select count(*) as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`))[0].n,
  );

test('a unit of work refused by a queued write leaves its connection in the pool, out of any transaction', async () => {
  const pool = database.pool;
  await database.transaction(async (tx) => tx.run(notes, [])); // at least one connection is pooled
  const pooled = pool.totalCount;
  const refused = await database
    .transaction(async (tx) => {
      tx.write(insertNote, [1, 'lost with the rest']);
      tx.write(failWith, ['22023']);
    })
    .catch((error: { code?: string }) => error.code);
  expect(refused).toBe('22023');
  expect(await committedNotes()).toEqual([]);
  expect({ pooled: pool.totalCount, idleInTransaction: await idleInTransaction() }).toEqual({ pooled, idleInTransaction: 0 });
});

test('a queued write pg cannot send (a parameter it cannot encode) fails the unit of work whole: nothing commits', async () => {
  const unencodable = { toPostgres: () => { throw new Error('this value cannot be sent'); } } as unknown as string;
  const pool = database.pool;
  const failed = await database
    .transaction(async (tx) => {
      await tx.run(insertNote, [1, 'before']);
      tx.write(insertNote, [2, unencodable]);
      tx.write(insertOtherNote, [3, 'after']);
    })
    .catch((error: Error) => error.message);
  expect(failed).toBe('this value cannot be sent');
  expect(await committedNotes()).toEqual([]);
  // pg's own recovery from such a failure closes the statement on the server behind its back:
  // the connection is not handed out again.
  expect(await idleInTransaction()).toBe(0);
  for (let i = 0; i < 2 * pool.options.max!; i++) await database.transaction(async (tx) => tx.run(insertNote, [10 + i, 'still works']));
  expect(await committedNotes()).toHaveLength(2 * pool.options.max!);
});

test('holdAnswersUntil: a statement sent before it is answered at once, one sent after it once the decision says go', async () => {
  const seen = await database.transaction(async (tx) => {
    let decide!: (go: boolean) => void;
    const order: string[] = [];
    const before = tx.run(notes, []).then(() => order.push('before'));
    tx.holdAnswersUntil(new Promise<boolean>((resolve) => (decide = resolve)));
    tx.write(insertNote, [1, 'behind the decision']);
    const after = tx.run(notes, []).then((rows) => {
      order.push('after');
      return rows.map((n) => n.text);
    });
    await before;
    // Long enough for the second answer to have come back: it is held.
    await new Promise((resolve) => setTimeout(resolve, 50));
    order.push('go');
    decide(true);
    return { rows: await after, order };
  });
  expect(seen).toEqual({ rows: ['behind the decision'], order: ['before', 'go', 'after'] });
  expect(await committedNotes()).toEqual(['1:behind the decision']);
});

test('held for good, the work is abandoned: discard rolls back what it sent and returns; woken, it sends nothing and waits for good', async () => {
  const callbacks: string[] = [];
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  let readItsAnswer = false;
  let abandoned: Promise<string> | undefined;
  const returned = await database.transaction(async (tx) => {
    tx.afterCommit(() => callbacks.push('committed'));
    tx.afterRollback(() => callbacks.push('rolled back'));
    tx.holdAnswersUntil(Promise.resolve(false));
    void (async () => {
      await tx.run(insertNote, [1, 'sent, never kept']);
      readItsAnswer = true;
    })();
    // Work that waits on something outside the transaction before its next statement.
    abandoned = (async () => {
      await woken;
      tx.write(insertNote, [2, 'queued after the end']);
      await tx.run(insertNote, [3, 'sent after the end']);
      return 'answered';
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    tx.discard();
    return 'the answer';
  });
  wake();
  const settled = await Promise.race([abandoned!, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 100))]);
  expect({ returned, readItsAnswer, callbacks, settled }).toEqual({
    returned: 'the answer', readItsAnswer: false, callbacks: ['rolled back'], settled: 'still waiting',
  });
  // Its connection went back to the pool and serves the next unit of work alone.
  await database.transaction(async (tx) => tx.run(insertNote, [4, 'the next unit of work']));
  expect(await committedNotes()).toEqual(['4:the next unit of work']);
  expect(await idleInTransaction()).toBe(0);
});

test("a statement's own failure is its answer, though pg failed a write sent behind it first: a deadlock there is retried", async () => {
  const unencodable = { toPostgres: () => { throw new Error('this value cannot be sent'); } } as unknown as string;
  let attempt = 0;
  await database.transaction(async (tx) => {
    attempt++;
    if (attempt > 1) return tx.run(insertNote, [attempt, `attempt ${attempt}`]);
    const deadlocked = tx.run(failWith, ['40P01']);
    // pg refuses this write before PostgreSQL has answered the statement ahead of it.
    tx.write(insertNote, [1, unencodable]);
    tx.run(notes, []).catch(() => undefined);
    return deadlocked;
  });
  expect(attempt).toBe(2);
  expect(await committedNotes()).toEqual(['2:attempt 2']);
});
