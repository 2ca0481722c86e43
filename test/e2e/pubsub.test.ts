import { Client } from 'pg';
import pino from 'pino';
import type { PubSub } from 'type-graphql';
import { type EventPublisher, LocalPubSub, PgPubSub, type PubSubLogger } from '../../src/graphql/pubsub';

// The one place that names the database (to be replaced by the suite's embedded database helper).
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTcpProxy } from '../support/tcp-proxy';

// The suite's own database on the run's PostgreSQL (embedded unless DATABASE_URL names one).
let database: TestDatabase;
let DATABASE_URL: string;
beforeAll(async () => {
  database = await createTestDatabase();
  DATABASE_URL = database.url;
});
afterAll(() => database.drop());

const silentLogger: PubSubLogger = pino({ level: 'silent' });

interface BalanceChanged {
  accountId: string;
  seq: number;
}

/** Resolves with the next value, or with 'timeout' when none arrives in time. */
async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function collect<T>(iterator: AsyncIterator<T>, count: number, ms: number): Promise<T[]> {
  const values: T[] = [];
  const deadline = Date.now() + ms;
  while (values.length < count) {
    const result = await nextWithin(iterator, Math.max(1, deadline - Date.now()));
    if (result === 'timeout' || result.done) break;
    values.push(result.value);
  }
  return values;
}

describe('PgPubSub over LISTEN/NOTIFY', () => {
  // A channel per run, so parallel runs on one database do not see each other's events.
  const channel = `patron_events_test_${process.pid}_${Date.now()}`;
  let instanceA: PgPubSub;
  let instanceB: PgPubSub;

  beforeEach(async () => {
    instanceA = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    instanceB = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    await Promise.all([instanceA.start(), instanceB.start()]);
  });

  afterEach(async () => {
    await Promise.all([instanceA.close(), instanceB.close()]);
  });

  it('fits the type-graphql PubSub and the EventPublisher interfaces', () => {
    const forSchema: PubSub = instanceA;
    const forServices: EventPublisher = instanceA;
    expect(forSchema).toBe(forServices);
  });

  it('delivers an event published on one instance to the subscriber of that account on another', async () => {
    const subscriberX = instanceA.subscribe<BalanceChanged>('BALANCE_CHANGED', 'account-x');
    const subscriberY = instanceA.subscribe<BalanceChanged>('BALANCE_CHANGED', 'account-y');
    // B sends only what some instance watches: wait until A's interest has reached it.
    await waitFor(() => instanceB.isWatched('BALANCE_CHANGED', 'account-x'));

    const started = Date.now();
    instanceB.publish('BALANCE_CHANGED', 'account-x', { accountId: 'account-x', seq: 1 });

    const received = await nextWithin(subscriberX, 1000);
    expect(received).toEqual({ done: false, value: { accountId: 'account-x', seq: 1 } });
    expect(Date.now() - started).toBeLessThan(1000);
    // Routing is by key: account Y's subscriber is not woken.
    expect(await nextWithin(subscriberY, 300)).toBe('timeout');

    await subscriberX.return?.();
    await subscriberY.return?.();
    expect(instanceA.subscriberCount).toBe(0);
  });

  it('sends nothing for a key no instance watches, and starts once one does', async () => {
    const before = instanceB.stats;
    instanceB.publish('BALANCE_CHANGED', 'nobody', { seq: 1 });
    await instanceB.flushNow();
    expect(instanceB.stats.unwatched - before.unwatched).toBe(1);
    expect(instanceB.stats.published - before.published).toBe(0);

    const late = instanceA.subscribe<BalanceChanged>('BALANCE_CHANGED', 'nobody');
    await waitFor(() => instanceB.isWatched('BALANCE_CHANGED', 'nobody'));
    instanceB.publish('BALANCE_CHANGED', 'nobody', { accountId: 'nobody', seq: 2 });
    expect(await collect(late, 2, 500)).toEqual([{ accountId: 'nobody', seq: 2 }]);

    // The last subscriber leaving withdraws the interest everywhere.
    await late.return?.();
    expect(await waitFor(() => !instanceB.isWatched('BALANCE_CHANGED', 'nobody'))).toBe(true);
  });

  it('a new instance learns hundreds of watched keys, and forgets them when their instance closes', async () => {
    const watcher = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    await watcher.start();
    const subscriptions = Array.from({ length: 300 }, (_, i) => watcher.subscribe('BALANCE_CHANGED', `member-${i}`));
    const newcomer = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    await newcomer.start();
    try {
      expect(await waitFor(() => subscriptions.every((_, i) => newcomer.isWatched('BALANCE_CHANGED', `member-${i}`)))).toBe(true);
      expect(watcher.stats.dropped).toBe(0);
      await watcher.close();
      expect(await waitFor(() => !newcomer.isWatched('BALANCE_CHANGED', 'member-0'))).toBe(true);
    } finally {
      await watcher.close();
      await newcomer.close();
    }
  });

  it('a new instance learns what the others already watch', async () => {
    const watcher = instanceA.subscribe('BALANCE_CHANGED', 'early');
    const newcomer = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    await newcomer.start();
    try {
      expect(await waitFor(() => newcomer.isWatched('BALANCE_CHANGED', 'early'))).toBe(true);
    } finally {
      await watcher.return?.();
      await newcomer.close();
    }
  });

  it('delivers to local subscribers only through the database, once each', async () => {
    const local = instanceA.subscribe<BalanceChanged>('BALANCE_CHANGED', 7);
    const remote = instanceB.subscribe<BalanceChanged>('BALANCE_CHANGED', '7');

    instanceA.publish('BALANCE_CHANGED', 7, { accountId: '7', seq: 1 });
    expect(instanceA.stats.received).toBe(0); // nothing delivered before the NOTIFY comes back

    expect(await collect(local, 2, 500)).toEqual([{ accountId: '7', seq: 1 }]);
    expect(await collect(remote, 2, 500)).toEqual([{ accountId: '7', seq: 1 }]);
    await local.return?.();
    await remote.return?.();
  });

  it('delivers a burst of 500 events in order, each once, in a few notifications', async () => {
    const subscriber = instanceA.subscribe<BalanceChanged>('BALANCE_CHANGED', 'account-x', { bufferSize: 1000 });
    await waitFor(() => instanceB.isWatched('BALANCE_CHANGED', 'account-x'));
    const before = instanceB.stats;

    for (let seq = 1; seq <= 500; seq++) {
      instanceB.publish('BALANCE_CHANGED', 'account-x', { accountId: 'account-x', seq, note: 'x'.repeat(40) });
    }

    const received = await collect(subscriber, 500, 2000);
    expect(received.map((event) => event.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(await nextWithin(subscriber, 200)).toBe('timeout'); // and no duplicates after them

    const after = instanceB.stats;
    const notifications = after.notifications - before.notifications;
    // ~40 KB of events need at least 6 payloads of 7 000 bytes; one per event would be 500.
    expect(notifications).toBeGreaterThanOrEqual(6);
    expect(notifications).toBeLessThan(20);
    expect(after.notifyQueries - before.notifyQueries).toBeLessThanOrEqual(3);
    expect(after.dropped).toBe(0);
    await subscriber.return?.();
  });

  it('drops an event too large for one NOTIFY instead of failing the publisher', async () => {
    const subscriber = instanceA.subscribe('BALANCE_CHANGED', 'account-x');
    await waitFor(() => instanceB.isWatched('BALANCE_CHANGED', 'account-x'));
    instanceB.publish('BALANCE_CHANGED', 'account-x', { note: 'x'.repeat(8000) });
    instanceB.publish('BALANCE_CHANGED', 'account-x', { note: 'fits' });
    expect(await collect(subscriber, 2, 500)).toEqual([{ note: 'fits' }]);
    expect(instanceB.stats.dropped).toBe(1);
    await subscriber.return?.();
  });

  it('keeps topic-wide events apart from per-id events', async () => {
    const topicWide = instanceA.subscribe('TIER_CHANGED');
    const perAccount = instanceA.subscribe('TIER_CHANGED', 'account-x');
    await waitFor(() => instanceB.isWatched('TIER_CHANGED') && instanceB.isWatched('TIER_CHANGED', 'account-x'));
    instanceB.publish('TIER_CHANGED', { everyone: true });
    instanceB.publish('TIER_CHANGED', 'account-x', { account: true });
    expect(await collect(topicWide, 2, 500)).toEqual([{ everyone: true }]);
    expect(await collect(perAccount, 2, 300)).toEqual([{ account: true }]);
    await topicWide.return?.();
    await perAccount.return?.();
  });

  it('drops the oldest events of a subscriber that does not keep up, with a warning', async () => {
    const warnings: string[] = [];
    const logger: PubSubLogger = { ...silentLogger, info: () => {}, error: () => {}, warn: (_obj, msg) => warnings.push(msg ?? '') };
    const slowInstance = new PgPubSub({ connectionString: DATABASE_URL, logger, channel });
    await slowInstance.start();
    try {
      const slow = slowInstance.subscribe<BalanceChanged>('BALANCE_CHANGED', 'slow', { bufferSize: 10 });
      await waitFor(() => instanceB.isWatched('BALANCE_CHANGED', 'slow'));
      for (let seq = 1; seq <= 25; seq++) instanceB.publish('BALANCE_CHANGED', 'slow', { accountId: 'slow', seq });
      await instanceB.flushNow();
      await waitFor(() => slowInstance.stats.received >= 25);
      expect((await collect(slow, 10, 500)).map((event) => event.seq)).toEqual(
        Array.from({ length: 10 }, (_, i) => i + 16),
      );
      expect(warnings).toEqual(['subscriber too slow: dropping oldest events']);
    } finally {
      await slowInstance.close();
    }
  });

  it('re-listens after its LISTEN connection is killed', async () => {
    const reconnecting = new PgPubSub({
      connectionString: DATABASE_URL,
      logger: silentLogger,
      channel,
      reconnectDelayMs: { min: 20, max: 200 },
    });
    await reconnecting.start();
    const admin = new Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      const subscriber = reconnecting.subscribe<BalanceChanged>('BALANCE_CHANGED', 'account-z');
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'patron-pubsub-listen' AND query = $1`,
        [`LISTEN "${channel}"`],
      );
      await waitFor(() => reconnecting.stats.listenConnections >= 2);
      await waitFor(() => instanceB.isWatched('BALANCE_CHANGED', 'account-z'));
      instanceB.publish('BALANCE_CHANGED', 'account-z', { accountId: 'account-z', seq: 1 });
      expect(await nextWithin(subscriber, 1000)).toEqual({ done: false, value: { accountId: 'account-z', seq: 1 } });
    } finally {
      await admin.end();
      await reconnecting.close();
    }
  });

  it('ends open iterators on close()', async () => {
    const closing = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    await closing.start();
    const subscriber = closing.subscribe('BALANCE_CHANGED', 'account-x');
    const pending = subscriber.next();
    await closing.close();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    await expect(subscriber.next()).resolves.toEqual({ done: true, value: undefined });
    expect(closing.subscriberCount).toBe(0);

    // A for-await loop over a subscription finishes too.
    const closing2 = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    await closing2.start();
    const loop = (async () => {
      let count = 0;
      for await (const _event of closing2.subscribe('BALANCE_CHANGED', 'account-x')) count++;
      return count;
    })();
    await closing2.close();
    await expect(loop).resolves.toBe(0);
  });
});

describe('PgPubSub when a NOTIFY fails', () => {
  it('rejects flushNow, so the outbox relay keeps the events unpublished and sends them again', async () => {
    const channel = `patron_events_fail_${process.pid}_${Date.now()}`;
    const proxy = await startTcpProxy(DATABASE_URL);
    const behind = new PgPubSub({ connectionString: proxy.url, logger: silentLogger, channel, reconnectDelayMs: { min: 50, max: 200 } });
    const watcher = new PgPubSub({ connectionString: DATABASE_URL, logger: silentLogger, channel });
    try {
      await Promise.all([behind.start(), watcher.start()]);
      const events = watcher.subscribe<BalanceChanged>('BALANCE_CHANGED', 'account-f');
      await waitFor(() => behind.isWatched('BALANCE_CHANGED', 'account-f'));
      await proxy.down();
      behind.publish('BALANCE_CHANGED', 'account-f', { accountId: 'account-f', seq: 1 });
      await expect(behind.flushNow()).rejects.toThrow();
      await proxy.up();
      // The caller (the relay) publishes the batch again once the database answers.
      behind.publish('BALANCE_CHANGED', 'account-f', { accountId: 'account-f', seq: 1 });
      await behind.flushNow();
      expect(await collect(events, 1, 5000)).toEqual([{ accountId: 'account-f', seq: 1 }]);
    } finally {
      await Promise.all([behind.close(), watcher.close()]);
      await proxy.close();
    }
  });
});

describe('LocalPubSub', () => {
  it('routes per key and delivers asynchronously, JSON-shaped like the database path', async () => {
    const pubsub = new LocalPubSub({ logger: silentLogger });
    const x = pubsub.subscribe('BALANCE_CHANGED', 'account-x');
    const y = pubsub.subscribe('BALANCE_CHANGED', 'account-y');
    const at = new Date('2026-01-01T00:00:00Z');
    pubsub.publish('BALANCE_CHANGED', 'account-x', { at });
    expect(await nextWithin(x, 200)).toEqual({ done: false, value: { at: at.toISOString() } });
    expect(await nextWithin(y, 100)).toBe('timeout');
    await pubsub.close();
    await expect(x.next()).resolves.toEqual({ done: true, value: undefined });
  });
});

async function waitFor(condition: () => boolean, ms = 5000): Promise<true> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
