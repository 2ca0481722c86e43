/**
 * Local delivery for the pub/sub: one async iterator per subscription, and a router that keeps
 * the subscribers of each routing key (topic + id), so an event wakes only the subscribers of
 * its key. PgPubSub (pubsub.ts) carries events between instances and hands them to a router.
 */

/** pino-compatible subset. */
export interface PubSubLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SubscriptionOptions {
  /** Events kept for a slow subscriber; beyond it the oldest are dropped. */
  bufferSize?: number;
}

export const DEFAULT_BUFFER_SIZE = 256;

/**
 * The async iterator handed to graphql-js for one subscription. graphql-js (and graphql-ws on
 * `complete`/disconnect) calls `return()`, which unregisters it from the router.
 */
class TopicSubscription<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private readonly waiting: Array<(result: IteratorResult<T>) => void> = [];
  private done = false;
  private overflowing = false;

  constructor(
    readonly topic: string,
    readonly id: string | undefined,
    private readonly bufferSize: number,
    private readonly logger: PubSubLogger,
    private readonly onClose: (subscription: TopicSubscription<T>) => void,
  ) {}

  push(value: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter({ value, done: false });
      return;
    }
    this.buffered.push(value);
    if (this.buffered.length > this.bufferSize) {
      this.buffered.shift();
      // One warning per backlog episode, not one per dropped event.
      if (!this.overflowing) {
        this.overflowing = true;
        this.logger.warn(
          { topic: this.topic, id: this.id, bufferSize: this.bufferSize },
          'subscriber too slow: dropping oldest events',
        );
      }
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffered.length > 0) {
      const value = this.buffered.shift() as T;
      if (this.buffered.length === 0) this.overflowing = false;
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops the iterator: pending and future `next()` calls resolve as done. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.buffered.length = 0;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.onClose(this);
  }
}

/** Local subscribers by routing key. */
export class TopicRouter {
  private readonly subscribers = new Map<string, Set<TopicSubscription<unknown>>>();

  constructor(
    private readonly logger: PubSubLogger,
    private readonly defaultBufferSize: number,
    /** Told when a key gets its first local subscriber (true) or loses its last (false). */
    private readonly onInterest: (key: string, watched: boolean) => void = () => undefined,
  ) {}

  static key(topic: string, id: string | undefined): string {
    // NUL cannot appear in a topic name, so `topic` alone never collides with `topic`+id.
    return id === undefined ? topic : `${topic}\u0000${id}`;
  }

  subscribe<T>(topic: string, id: string | undefined, options?: SubscriptionOptions): TopicSubscription<T> {
    const key = TopicRouter.key(topic, id);
    const subscription = new TopicSubscription<T>(
      topic,
      id,
      options?.bufferSize ?? this.defaultBufferSize,
      this.logger,
      (closed) => {
        const set = this.subscribers.get(key);
        set?.delete(closed as TopicSubscription<unknown>);
        if (set?.size === 0) {
          this.subscribers.delete(key);
          this.onInterest(key, false);
        }
      },
    );
    let set = this.subscribers.get(key);
    if (!set) {
      this.subscribers.set(key, (set = new Set()));
      this.onInterest(key, true);
    }
    set.add(subscription as TopicSubscription<unknown>);
    return subscription;
  }

  has(key: string): boolean {
    return this.subscribers.has(key);
  }

  get keys(): string[] {
    return [...this.subscribers.keys()];
  }

  /** Returns how many subscribers received the payload. */
  deliver(topic: string, id: string | undefined, payload: unknown): number {
    const set = this.subscribers.get(TopicRouter.key(topic, id));
    if (!set) return 0;
    for (const subscription of set) subscription.push(payload);
    return set.size;
  }

  get subscriberCount(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  endAll(): void {
    for (const set of [...this.subscribers.values()]) for (const subscription of [...set]) subscription.end();
    this.subscribers.clear();
  }
}
