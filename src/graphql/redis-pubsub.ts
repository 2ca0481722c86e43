import { Redis } from 'ioredis';
import type { PubSub } from 'type-graphql';
import { DEFAULT_BUFFER_SIZE, TopicRouter, type PubSubLogger, type SubscriptionOptions } from './topic-router';
import type { EventPublisher, TopicId } from './pubsub';

/**
 * Pub/sub for type-graphql subscriptions over Redis (PATRON_REDIS_URL), for installations where
 * PostgreSQL LISTEN/NOTIFY should not carry the event stream. Like PgPubSub it only carries
 * events between instances: the outbox relay stays their single source.
 *
 * Each routing key (topic + id, as in TopicRouter) is a Redis channel `<prefix><key>`. An
 * instance SUBSCRIBEs to the keys it has local subscribers for, so Redis routes every event only
 * to the instances that watch it, and a shop with no open subscriptions receives nothing.
 * `publish` buffers; one pipelined round trip per flush sends the buffer.
 *
 * Redis away (restart, network): both connections reconnect with backoff and the subscriber
 * connection SUBSCRIBEs again. Publishing fails at once while the connection is down
 * (no offline queue), so `flushNow` rejects, the relay's claim rolls back and the events stay
 * in the outbox until a later attempt gets them through. An instance whose subscriber
 * connection is still down when they go out misses them; clients see the gap in `sequence`
 * and read it with balanceChanges(afterSequence).
 */

export interface RedisPubSubOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// */
  url: string;
  logger: PubSubLogger;
  /** Prefix of every channel; instances that should share events use the same one. */
  channelPrefix?: string;
  subscriberBufferSize?: number;
  /** Longest a publish may wait for Redis before it counts as failed. */
  commandTimeoutMs?: number;
  /** Backoff bounds for reconnecting. */
  reconnectDelayMs?: { min: number; max: number };
}

export interface RedisPubSubStats {
  /** Events accepted by `publish`. */
  published: number;
  /** Pipelined round trips that sent them. */
  flushes: number;
  /** Events received from Redis, from any instance. */
  received: number;
  /** Events Redis did not take because it was away (the relay publishes them again) or that would not serialize. */
  failed: number;
  /** Successful (re)connections of the subscriber connection. */
  subscriberConnections: number;
}

/** [topic, id or null, payload] as JSON text, with the channel it goes to. */
type OutgoingEvent = [channel: string, message: string];

export class RedisPubSub implements PubSub, EventPublisher {
  private readonly router: TopicRouter;
  private readonly logger: PubSubLogger;
  private readonly prefix: string;
  /** Publishes; fails fast while disconnected so the relay keeps the events in the outbox. */
  private readonly publisher: Redis;
  /** In subscriber mode; ioredis re-SUBSCRIBEs its channels after a reconnect. */
  private readonly subscriber: Redis;

  private pending: OutgoingEvent[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> | null = null;
  private started = false;
  private closed = false;
  /** One warning per outage, not one per reconnect attempt. */
  private readonly down = new Set<Redis>();

  private readonly counters: RedisPubSubStats = { published: 0, flushes: 0, received: 0, failed: 0, subscriberConnections: 0 };

  constructor(options: RedisPubSubOptions) {
    this.logger = options.logger;
    this.prefix = options.channelPrefix ?? 'patron:';
    const { min, max } = options.reconnectDelayMs ?? { min: 100, max: 5000 };
    const common = {
      lazyConnect: true,
      connectTimeout: 10_000,
      // Jitter keeps many instances from reconnecting in lockstep after a Redis restart.
      retryStrategy: (attempt: number) => {
        const exponential = Math.min(max, min * 2 ** Math.min(attempt, 16));
        return Math.round(exponential / 2 + Math.random() * (exponential / 2));
      },
    };
    this.publisher = new Redis(options.url, {
      ...common,
      connectionName: 'patron-pubsub-publish',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
    });
    this.subscriber = new Redis(options.url, {
      ...common,
      connectionName: 'patron-pubsub-subscribe',
      // SUBSCRIBE/UNSUBSCRIBE issued while Redis is away wait for the connection.
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
    });
    for (const [connection, name] of [[this.publisher, 'publish'], [this.subscriber, 'subscribe']] as const) {
      connection.on('error', (error: Error) => {
        if (this.closed || this.down.has(connection)) return;
        this.down.add(connection);
        this.logger.warn({ err: error, connection: name }, 'pubsub Redis connection lost; reconnecting');
      });
      connection.on('ready', () => {
        if (connection === this.subscriber) this.counters.subscriberConnections++;
        if (this.down.delete(connection)) this.logger.info({ connection: name }, 'pubsub Redis connection re-established');
      });
    }
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
    this.router = new TopicRouter(this.logger, options.subscriberBufferSize ?? DEFAULT_BUFFER_SIZE, (key, watched) => this.watch(key, watched));
  }

  get stats(): Readonly<RedisPubSubStats> {
    return { ...this.counters };
  }

  get subscriberCount(): number {
    return this.router.subscriberCount;
  }

  /** Resolves once both connections are up; rejects (and stops retrying) if the first attempt fails. */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.closed) throw new Error('RedisPubSub is closed');
    this.started = true;
    try {
      await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
    } catch (error) {
      this.started = false;
      this.publisher.disconnect();
      this.subscriber.disconnect();
      throw error;
    }
  }

  publish(topic: string, id: TopicId, payload: unknown): void;
  publish(topic: string, payload: unknown): void;
  publish(topic: string, ...args: unknown[]): void {
    if (this.closed) {
      this.logger.warn({ topic }, 'publish after pubsub closed: event dropped');
      return;
    }
    if (args.length !== 1 && !(args.length === 2 && (typeof args[0] === 'string' || typeof args[0] === 'number'))) {
      throw new TypeError(`publish(${topic}) expects (payload) or (id, payload)`);
    }
    const id = args.length === 2 ? String(args[0]) : null;
    let message: string;
    try {
      message = JSON.stringify([topic, id, args[args.length - 1] ?? null]);
    } catch (error) {
      // Published after commit: failing the caller would report a committed change as failed.
      this.counters.failed++;
      this.logger.error({ err: error, topic }, 'event payload is not JSON-serializable: dropped');
      return;
    }
    this.counters.published++;
    this.pending.push([this.channelOf(TopicRouter.key(topic, id ?? undefined)), message]);
    this.scheduleFlush();
  }

  subscribe<T = unknown>(topic: string, id?: unknown, options?: SubscriptionOptions): AsyncIterableIterator<T> {
    const subscription = this.router.subscribe<T>(topic, normalizeId(id), options);
    // A subscription arriving during shutdown just ends.
    if (this.closed) subscription.end();
    return subscription;
  }

  /**
   * Waits until Redis took every event published so far; rejects when it did not (it is away),
   * so the outbox relay does not mark them published.
   */
  async flushNow(): Promise<void> {
    while (this.flushing || this.pending.length > 0) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  /** Sends what is buffered (if Redis takes it), ends open subscriptions and closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushNow().catch(() => undefined);
    this.closed = true;
    this.router.endAll();
    await Promise.allSettled([this.publisher, this.subscriber].map((connection) => (connection.status === 'ready' ? connection.quit() : connection.disconnect())));
  }

  private channelOf(key: string): string {
    // The router's key (topic, NUL, id) is unambiguous; Redis channel names may hold any byte.
    return this.prefix + key;
  }

  private watch(key: string, watched: boolean): void {
    if (this.closed) return;
    const channel = this.channelOf(key);
    const done = watched ? this.subscriber.subscribe(channel) : this.subscriber.unsubscribe(channel);
    done.catch((error: unknown) => this.logger.warn({ err: error, channel, watched }, 'pubsub Redis (un)subscribe failed'));
  }

  private onMessage(message: string): void {
    let event: [string, string | null, unknown];
    try {
      event = JSON.parse(message) as [string, string | null, unknown];
    } catch (error) {
      this.logger.warn({ err: error }, 'unreadable pubsub message ignored');
      return;
    }
    this.counters.received++;
    this.router.deliver(event[0], event[1] ?? undefined, event[2]);
  }

  private scheduleFlush(): void {
    // While a flush is in flight, events pile up and go out together when it finishes.
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush().catch(() => undefined);
    });
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.length === 0) return Promise.resolve();
    const events = this.pending;
    this.pending = [];
    const flushing = this.send(events).finally(() => {
      this.flushing = null;
      if (this.pending.length > 0) this.scheduleFlush();
    });
    // Rejections reach whoever awaits flushNow(); a scheduled flush nobody awaits only logs.
    flushing.catch(() => undefined);
    this.flushing = flushing;
    return flushing;
  }

  private async send(events: OutgoingEvent[]): Promise<void> {
    const pipeline = this.publisher.pipeline();
    for (const [channel, message] of events) pipeline.publish(channel, message);
    let failed: Error | null = null;
    try {
      const results = (await pipeline.exec()) ?? [];
      failed = results.find(([error]) => error)?.[0] ?? (results.length < events.length ? new Error('Redis answered fewer publishes than sent') : null);
    } catch (error) {
      failed = error as Error;
    }
    this.counters.flushes++;
    if (failed) {
      this.counters.failed += events.length;
      this.logger.warn({ err: failed, events: events.length }, 'pubsub Redis publish failed');
      throw failed;
    }
  }
}

function normalizeId(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  throw new TypeError(`subscription topic id must be a string or number, got ${typeof id}`);
}
