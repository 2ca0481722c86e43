import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { writeOutbox, type OutboxEvent } from './outbox-store';
import type { Queryable, Statement } from './statement';
import { backoffMs, isConflict, refusedInput } from './failures';
import { PipelinedUnitOfWork, type UnitOfWork } from './unit-of-work';

// Points and money are bounded far below 2^53, so int8 columns read as plain numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type { OutboxEvent } from './outbox-store';
export type { UnitOfWork } from './unit-of-work';

/**
 * What stores run their SQL on: declared statements (`run`), and — only for statements whose
 * text is built from fixed pieces at run time — `execute` with `?` placeholders.
 */
export interface Sql extends Queryable {
  execute<T = any>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** Runs inside the transaction for every emitted event (the domain hooks). */
export type EventDispatcher = (tx: UnitOfWork, event: OutboxEvent) => Promise<void>;

const MAX_NAMED_STATEMENTS = 1000;

/** Limits set on every pooled connection (0 turns one off). */
export interface PoolLimits {
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** How long to wait for a new connection before the request fails. */
  connectionTimeoutMs?: number;
}

export interface TransactionOptions {
  isolation?: 'repeatable read' | 'serializable';
  readOnly?: boolean;
  attempts?: number;
}

interface PreparedText {
  name?: string;
  text: string;
}

interface DatabaseLogger {
  error(obj: object, msg?: string): void;
}

/**
 * The connection pool the services run on. Statements are sent as named prepared statements:
 * PostgreSQL plans each once per connection instead of on every call, which on the ledger's
 * write path halves the database's CPU per operation. (MikroORM keeps the schema.)
 */
export class Database implements Sql {
  readonly pool: pg.Pool;
  private readonly adHoc = new Map<string, PreparedText>();
  private dispatcher: EventDispatcher = async () => undefined;
  private readonly committedListeners: Array<() => void> = [];

  constructor(
    readonly connectionString: string,
    max: number,
    limits: PoolLimits = {},
    private readonly logger?: DatabaseLogger,
  ) {
    this.pool = new pg.Pool({
      connectionString,
      max,
      // A unit of work sends statements without waiting for the answers to earlier ones (see PipelinedUnitOfWork).
      pipeline: true,
      options: '-c TimeZone=UTC',
      // A runaway statement or a transaction left open cannot hold locks for long.
      statement_timeout: limits.statementTimeoutMs ?? 30_000,
      idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs ?? 60_000,
      connectionTimeoutMillis: limits.connectionTimeoutMs ?? 10_000,
    });
    // A connection that dies (the database restarts, a backend is terminated) must not crash
    // the process: the pool drops an idle one by itself, and a checked-out one fails the query
    // in progress, but both also emit 'error' events, which kill the process when unheard.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /** The domain hooks: called inside the transaction for every event a unit of work emits. */
  setDispatcher(dispatcher: EventDispatcher): void {
    this.dispatcher = dispatcher;
  }

  /** Called after every commit that wrote outbox events (the relay listens here). */
  onOutboxCommitted(listener: () => void): void {
    this.committedListeners.push(listener);
  }

  async run<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R[]> {
    const result = await this.pool.query({ name: statement.name, text: statement.text, values: params as unknown as unknown[] });
    return result.rows as R[];
  }

  /**
   * One statement as a transaction of its own (autocommit: one round trip, no BEGIN/COMMIT), for
   * a write done wholly by one statement or database function. A deadlock or serialization
   * failure runs it again after a jittered backoff, as {@link transaction} does; the last failure
   * is thrown when attempts run out.
   */
  runAlone<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P, attempts = 5): Promise<R[]> {
    return this.retryingConflicts(attempts, () => this.run(statement, params));
  }

  /** After a {@link runAlone} write that committed outbox events: wakes their listeners (the relay). */
  outboxCommitted(): void {
    for (const fn of this.committedListeners) this.runCallback(fn, 'after-commit');
  }

  async execute<T = any>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.pool.query({ ...this.adHocText(sql), values: params as unknown[] });
    return result.rows as T[];
  }

  /**
   * One unit of work on one connection. A deadlock or serialization failure is retried from
   * the start after a jittered backoff, so the work must have no effect outside the
   * transaction before it commits. The last failure is thrown when attempts run out.
   */
  async transaction<T>(work: (tx: UnitOfWork) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 5;
    const begin = ['begin', options.isolation && `isolation level ${options.isolation}`, options.readOnly && 'read only']
      .filter(Boolean)
      .join(' ');
    return this.retryingConflicts(attempts, async () => {
      const client = await this.pool.connect();
      const connection = new PipelinedUnitOfWork(client, (sql) => this.adHocText(sql));
      const outbox: OutboxEvent[] = [];
      const committed: Array<() => void> = [];
      const rolledBack: Array<() => void> = [];
      let discarded = false;
      const rollBack = async () => {
        // A connection that cannot roll back is broken: the pool must not hand it out again.
        client.release(!(await connection.rollback()));
        for (const fn of rolledBack) this.runCallback(fn, 'after-rollback');
      };
      const tx: UnitOfWork = {
        run: (statement, params) => connection.run(statement, params),
        execute: (sql, params) => connection.execute(sql, params),
        write: (statement, params) => connection.write(statement, params),
        emit: async (event) => {
          outbox.push(event);
          await this.dispatcher(tx, event);
        },
        afterCommit: (fn) => committed.push(fn),
        afterRollback: (fn) => rolledBack.push(fn),
        holdAnswersUntil: (proceed) => connection.holdAnswersUntil(proceed),
        discard: () => (discarded = true),
      };
      try {
        connection.begin(begin);
        const result = await work(tx);
        if (discarded) {
          await rollBack();
          return result;
        }
        // The events and the commit go out together: one round trip.
        if (outbox.length > 0) writeOutbox(tx, outbox);
        await connection.commit();
        client.release();
        for (const fn of committed) this.runCallback(fn, 'after-commit');
        if (outbox.length > 0) this.outboxCommitted();
        return result;
      } catch (error) {
        await rollBack();
        throw error;
      }
    });
  }

  /**
   * Runs `once` until it succeeds, again after a jittered backoff on a deadlock or serialization
   * failure; when attempts run out, or on any other failure, throws it (an input bound's CHECK
   * as the caller's BAD_USER_INPUT).
   */
  private async retryingConflicts<T>(attempts: number, once: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once();
      } catch (error) {
        if (attempt >= attempts || !isConflict(error)) throw refusedInput(error) ?? error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      }
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /** A failing callback must not turn a committed write into an error, nor hide why an attempt failed. */
  private runCallback(fn: () => void, when: 'after-commit' | 'after-rollback'): void {
    try {
      fn();
    } catch (error) {
      this.logger?.error({ err: error }, `${when} callback failed`);
    }
  }

  /** `?` placeholders become `$1…$n` once per distinct text; the text's hash names the statement. */
  private adHocText(sql: string): PreparedText {
    let prepared = this.adHoc.get(sql);
    if (!prepared) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      // Texts built with varying pieces could be unbounded; past the cap they go unnamed.
      const named = this.adHoc.size < MAX_NAMED_STATEMENTS;
      prepared = named ? { name: `p_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text } : { text };
      if (named) this.adHoc.set(sql, prepared);
    }
    return prepared;
  }
}

export const newEventId = (): string => randomUUID();
