import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import type { PubSub } from 'type-graphql';
import { DEFAULT_BUFFER_SIZE, TopicRouter, type PubSubLogger, type SubscriptionOptions } from './topic-router';

export type { PubSubLogger, SubscriptionOptions } from './topic-router';
import { notifyAll } from '../db/notify-store';

/**
 * Pub/sub for type-graphql subscriptions.
 *
 * Routing: events are keyed by topic + id (`BALANCE_CHANGED` + accountId), and each key has its
 * own set of local subscribers, so an event wakes only the subscribers of its key.
 *
 * PgPubSub carries events between instances over PostgreSQL LISTEN/NOTIFY: `publish` buffers,
 * one query per flush sends the buffer as a few NOTIFY payloads, and every instance (including
 * the publisher) delivers to its local subscribers when the notification arrives on its LISTEN
 * connection, so all subscribers see one stream, each event once.
 */

export type TopicId = string | number;

/** What services depend on to announce a change after their transaction committed. */
export interface EventPublisher {
  publish(topic: string, id: TopicId, payload: unknown): void;
}

/** The reserved topic of interest messages: [INTEREST_TOPIC, 'watch' | 'unwatch' | 'sync', keys]. */
const INTEREST_TOPIC = '\u0001interest';
const INTEREST_PREFIX = JSON.stringify([INTEREST_TOPIC]).slice(0, -1);
/** About 60 bytes a key: a message of 80 keys stays well under a NOTIFY payload. */
const INTEREST_KEYS_PER_MESSAGE = 80;
const INTEREST_REFRESH_MS = 60_000;

/** One event on the wire and in the buffer; `id` is null for topic-wide events. */
type WireEvent = [topic: string, id: string | null, payload: unknown];

/**
 * type-graphql (like graphql-yoga) calls `publish(topic, payload)` or `publish(topic, id, payload)`;
 * ids are compared as strings so a numeric id matches its string form.
 */
function toWireEvent(topic: string, args: unknown[]): WireEvent {
  if (args.length === 1) return [topic, null, args[0]];
  if (args.length === 2 && (typeof args[0] === 'string' || typeof args[0] === 'number')) {
    return [topic, String(args[0]), args[1]];
  }
  throw new TypeError(`publish(${topic}) expects (payload) or (id, payload)`);
}

function normalizeId(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  throw new TypeError(`subscription topic id must be a string or number, got ${typeof id}`);
}

/**
 * In-memory pub/sub with the same interface and routing as PgPubSub, for unit tests and single
 * process use. Payloads go through JSON and arrive asynchronously, as they do over NOTIFY, so a
 * payload that would not survive the database (a Date, a bigint) fails the same way here.
 */
export class LocalPubSub implements PubSub, EventPublisher {
  private readonly router: TopicRouter;
  private pending: WireEvent[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(options: { logger: PubSubLogger; subscriberBufferSize?: number }) {
    this.router = new TopicRouter(options.logger, options.subscriberBufferSize ?? DEFAULT_BUFFER_SIZE);
  }

  async start(): Promise<void> {}

  publish(topic: string, id: TopicId, payload: unknown): void;
  publish(topic: string, payload: unknown): void;
  publish(topic: string, ...args: unknown[]): void {
    if (this.closed) return;
    const [eventTopic, id, payload] = toWireEvent(topic, args);
    this.pending.push([eventTopic, id, JSON.parse(JSON.stringify(payload ?? null))]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  subscribe<T = unknown>(topic: string, id?: unknown, options?: SubscriptionOptions): AsyncIterableIterator<T> {
    return this.router.subscribe<T>(topic, normalizeId(id), options);
  }

  get subscriberCount(): number {
    return this.router.subscriberCount;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.router.endAll();
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.pending;
    this.pending = [];
    for (const [topic, id, payload] of events) this.router.deliver(topic, id ?? undefined, payload);
  }
}

export interface PgPubSubOptions {
  connectionString: string;
  logger: PubSubLogger;
  /** NOTIFY channel; instances that should share events use the same one. */
  channel?: string;
  subscriberBufferSize?: number;
  /** Upper bound of one NOTIFY payload; PostgreSQL refuses payloads of 8000 bytes or more. */
  maxPayloadBytes?: number;
  /** Backoff bounds for re-establishing the LISTEN connection. */
  reconnectDelayMs?: { min: number; max: number };
}

export interface PgPubSubStats {
  /** Events accepted by `publish`. */
  published: number;
  /** NOTIFY payloads sent (each carries a batch of events). */
  notifications: number;
  /** Round trips spent sending them (one per flush). */
  notifyQueries: number;
  /** Events received on the LISTEN connection, from any instance. */
  received: number;
  /** Events lost: too large, failed to serialize, or the NOTIFY query failed. */
  dropped: number;
  /** Successful LISTEN (re)connections. */
  listenConnections: number;
  /** Events not sent because no instance had a subscriber for them. */
  unwatched: number;
}

/** A NOTIFY payload: sender and sequence make every payload unique (identical payloads in one transaction are merged). */
interface WireBatch {
  s: string;
  n: number;
  e: WireEvent[];
}

export class PgPubSub implements PubSub, EventPublisher {
  private readonly router: TopicRouter;
  private readonly logger: PubSubLogger;
  private readonly connectionString: string;
  private readonly channel: string;
  private readonly maxPayloadBytes: number;
  private readonly reconnectDelayMs: { min: number; max: number };
  private readonly instanceId = randomUUID();
  private readonly notifyPool: Pool;

  /**
   * Routing keys some instance has subscribers for, with the instances that do. An event
   * nobody watches is not sent at all: a busy shop with no open subscriptions pays nothing for
   * real time. Instances announce their keys on the same channel (INTEREST_TOPIC).
   */
  private readonly watched = new Map<string, Map<string, number>>();
  /** Re-announces this instance's keys and forgets peers' keys not refreshed in time (a crashed peer). */
  private refreshTimer: NodeJS.Timeout | null = null;

  /** Serialized events (JSON text) waiting for the next flush. */
  private pending: string[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> | null = null;
  private batchSequence = 0;

  private listenClient: Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectAttempt = 0;
  private started = false;
  private closed = false;

  private readonly counters: PgPubSubStats = {
    published: 0,
    notifications: 0,
    notifyQueries: 0,
    received: 0,
    dropped: 0,
    listenConnections: 0,
    unwatched: 0,
  };

  constructor(options: PgPubSubOptions) {
    this.connectionString = options.connectionString;
    this.logger = options.logger;
    this.channel = options.channel ?? 'patron_events';
    this.maxPayloadBytes = options.maxPayloadBytes ?? 7000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? { min: 100, max: 5000 };
    this.router = new TopicRouter(this.logger, options.subscriberBufferSize ?? DEFAULT_BUFFER_SIZE, (key, watched) =>
      this.announce(watched ? 'watch' : 'unwatch', [key]),
    );
    // One connection keeps NOTIFYs in publish order; the pool replaces it when it breaks.
    this.notifyPool = new Pool({
      connectionString: this.connectionString,
      max: 1,
      idleTimeoutMillis: 0,
      // Bounded, so a flush (and close(), which awaits it) cannot hang on an unreachable database.
      connectionTimeoutMillis: 10_000,
      query_timeout: 10_000,
      application_name: 'patron-pubsub-notify',
    });
    this.notifyPool.on('error', (error) => this.logger.warn({ err: error }, 'pubsub NOTIFY connection failed'));
  }

  get stats(): Readonly<PgPubSubStats> {
    return { ...this.counters };
  }

  get subscriberCount(): number {
    return this.router.subscriberCount;
  }

  /** Resolves once the LISTEN connection is up; rejects if the first attempt fails. */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.closed) throw new Error('PgPubSub is closed');
    this.started = true;
    try {
      await this.connectListener();
    } catch (error) {
      this.started = false;
      throw error;
    }
    this.refreshTimer = setInterval(() => this.refreshInterest(), INTEREST_REFRESH_MS);
    this.refreshTimer.unref();
  }

  publish(topic: string, id: TopicId, payload: unknown): void;
  publish(topic: string, payload: unknown): void;
  publish(topic: string, ...args: unknown[]): void {
    if (this.closed) {
      this.logger.warn({ topic }, 'publish after pubsub closed: event dropped');
      return;
    }
    const event = toWireEvent(topic, args);
    if (!this.isWatched(event[0], event[1] ?? undefined)) {
      this.counters.unwatched++;
      return;
    }
    let serialized: string;
    try {
      serialized = JSON.stringify(event);
    } catch (error) {
      // Published after commit: failing the caller would report a committed change as failed.
      this.counters.dropped++;
      this.logger.error({ err: error, topic }, 'event payload is not JSON-serializable: dropped');
      return;
    }
    if (Buffer.byteLength(serialized) > this.maxPayloadBytes - 100) {
      this.counters.dropped++;
      this.logger.error({ topic, bytes: Buffer.byteLength(serialized) }, 'event payload exceeds the NOTIFY limit: dropped');
      return;
    }
    this.counters.published++;
    this.pending.push(serialized);
    this.scheduleFlush();
  }

  /** Whether a subscriber anywhere (as far as this instance has heard) waits for this key. */
  isWatched(topic: string, id?: TopicId): boolean {
    const key = TopicRouter.key(topic, id === undefined ? undefined : String(id));
    return this.router.has(key) || this.watched.has(key) || this.watched.has(TopicRouter.key(topic, undefined));
  }

  subscribe<T = unknown>(topic: string, id?: unknown, options?: SubscriptionOptions): AsyncIterableIterator<T> {
    if (this.closed) {
      // An already-finished iterator: a subscription arriving during shutdown just ends.
      const ended = this.router.subscribe<T>(topic, normalizeId(id), options);
      ended.end();
      return ended;
    }
    return this.router.subscribe<T>(topic, normalizeId(id), options);
  }

  /** Sends what is buffered, ends open subscriptions and closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Peers stop sending what only this instance wanted.
    this.announce('unwatch', this.router.keys);
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.flushNow().catch(() => undefined);
    this.router.endAll();
    const listener = this.listenClient;
    this.listenClient = null;
    await Promise.allSettled([listener?.end(), this.notifyPool.end()]);
  }

  /** Waits until every event published so far has been sent (not necessarily received). */
  async flushNow(): Promise<void> {
    while (this.flushing || this.pending.length > 0) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  private scheduleFlush(): void {
    // While a flush is in flight, events pile up and go out together when it finishes.
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      // Nobody waits for a scheduled flush: a failure is logged in send(); a waiting relay sees it in flushNow().
      this.flush().catch(() => undefined);
    });
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.length === 0) return Promise.resolve();
    const events = this.pending;
    this.pending = [];
    this.flushing = this.send(events).finally(() => {
      this.flushing = null;
      if (this.pending.length > 0) this.scheduleFlush();
    });
    return this.flushing;
  }

  private async send(events: string[]): Promise<void> {
    const payloads = this.pack(events);
    try {
      await this.notifyPool.query({ name: notifyAll.name, text: notifyAll.text, values: [this.channel, payloads] });
      this.counters.notifyQueries++;
      this.counters.notifications += payloads.length;
    } catch (error) {
      this.counters.dropped += events.length;
      this.logger.error({ err: error, events: events.length }, 'pubsub NOTIFY failed: events not sent');
      // Interest announcements may have been among them: say it all again with the next flush.
      if (events.some((e) => e.startsWith(INTEREST_PREFIX))) {
        setTimeout(() => this.announce('watch', this.router.keys), 1000).unref();
      }
      // The outbox relay waits in flushNow(): failing it rolls its claim back, so the events stay
      // unpublished and go out again with the next poll instead of being lost.
      throw error;
    }
  }

  /** Packs serialized events into as few payloads under `maxPayloadBytes` as possible. */
  private pack(events: string[]): string[] {
    const payloads: string[] = [];
    let batch: string[] = [];
    let batchBytes = 0;
    const envelope = (): string =>
      `{"s":${JSON.stringify(this.instanceId)},"n":${++this.batchSequence},"e":[${batch.join(',')}]}`;
    // Room for the envelope: instance id, sequence number, brackets.
    const budget = this.maxPayloadBytes - 80;
    for (const event of events) {
      const bytes = Buffer.byteLength(event) + 1;
      if (batch.length > 0 && batchBytes + bytes > budget) {
        payloads.push(envelope());
        batch = [];
        batchBytes = 0;
      }
      batch.push(event);
      batchBytes += bytes;
    }
    if (batch.length > 0) payloads.push(envelope());
    return payloads;
  }

  private onNotification(channel: string, payload: string | undefined): void {
    if (channel !== this.channel || !payload) return;
    let batch: WireBatch;
    try {
      batch = JSON.parse(payload) as WireBatch;
    } catch (error) {
      this.logger.warn({ err: error }, 'unreadable pubsub notification ignored');
      return;
    }
    for (const [topic, id, eventPayload] of batch.e) {
      if (topic === INTEREST_TOPIC) {
        this.onInterestMessage(batch.s, id, eventPayload as string[]);
        continue;
      }
      this.counters.received++;
      this.router.deliver(topic, id ?? undefined, eventPayload);
    }
  }

  /** Queues an interest message; it travels in order with the events. */
  private announce(op: 'watch' | 'unwatch' | 'sync', keys: string[]): void {
    if (this.closed || (op !== 'sync' && keys.length === 0)) return;
    // In chunks that fit one NOTIFY payload whatever the number of keys.
    for (let i = 0; i === 0 || i < keys.length; i += INTEREST_KEYS_PER_MESSAGE) {
      this.pending.push(JSON.stringify([INTEREST_TOPIC, op, keys.slice(i, i + INTEREST_KEYS_PER_MESSAGE)] satisfies WireEvent));
    }
    this.scheduleFlush();
  }

  /** Keeps interest fresh: ours re-sent, peers' that stopped being re-sent forgotten. */
  private refreshInterest(): void {
    this.announce('watch', this.router.keys);
    const stale = Date.now() - INTEREST_REFRESH_MS * 3;
    for (const [key, instances] of this.watched) {
      for (const [instance, heard] of instances) if (heard < stale) instances.delete(instance);
      if (instances.size === 0) this.watched.delete(key);
    }
  }

  private onInterestMessage(sender: string, op: string | null, keys: string[]): void {
    if (op === 'sync') {
      // A new or reconnected instance asks what everyone watches.
      if (sender !== this.instanceId) this.announce('watch', this.router.keys);
      return;
    }
    const now = Date.now();
    for (const key of keys) {
      const instances = this.watched.get(key) ?? new Map<string, number>();
      if (op === 'watch') instances.set(sender, now);
      else instances.delete(sender);
      if (instances.size > 0) this.watched.set(key, instances);
      else this.watched.delete(key);
    }
  }

  private async connectListener(): Promise<void> {
    const client = new Client({
      connectionString: this.connectionString,
      // Notice a silently dead connection in seconds rather than the OS default of hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
      application_name: 'patron-pubsub-listen',
    });
    let established = false;
    let lost = false;
    const onLost = (error?: Error): void => {
      // Failures before LISTEN succeeded reject connectListener() instead.
      if (!established || lost) return;
      lost = true;
      if (this.listenClient === client) this.listenClient = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn({ err: error }, 'pubsub LISTEN connection lost; events published meanwhile are missed');
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => this.onNotification(message.channel, message.payload));

    try {
      await client.connect();
      await client.query(`LISTEN ${escapeIdentifier(this.channel)}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    established = true;
    this.listenClient = client;
    this.reconnectAttempt = 0;
    // Interest announced while this connection was down was missed: ask again, and say ours.
    this.announce('sync', []);
    this.announce('watch', this.router.keys);
    this.counters.listenConnections++;
    if (this.counters.listenConnections > 1) this.logger.info({ channel: this.channel }, 'pubsub LISTEN re-established');
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const { min, max } = this.reconnectDelayMs;
    const exponential = Math.min(max, min * 2 ** this.reconnectAttempt++);
    // Jitter keeps many instances from reconnecting in lockstep after a database restart.
    const delay = Math.round(exponential / 2 + Math.random() * (exponential / 2));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connectListener().catch((error: unknown) => {
        this.logger.warn({ err: error, attempt: this.reconnectAttempt }, 'pubsub LISTEN reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
  }
}

function escapeIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
