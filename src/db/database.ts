import { createHash } from 'node:crypto';
import pg from 'pg';
import { backoffMs, isConflict } from './failures';

// Points and money are bounded far below 2^53, so int8 columns read as plain numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** What services need of the database: run a statement with `?` placeholders, get its rows. */
export interface Sql {
  execute<T = any>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

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

interface Statement {
  name?: string;
  text: string;
}

/**
 * The connection pool the services run on. Statements are written with `?` placeholders and
 * sent as named prepared statements: PostgreSQL plans each once per connection instead of on
 * every call, which on the ledger's write path halves the database's CPU per operation.
 * (MikroORM keeps the schema: entities and migrations.)
 */
export class Database implements Sql {
  readonly pool: pg.Pool;
  private readonly statements = new Map<string, Statement>();

  constructor(
    readonly connectionString: string,
    max: number,
    limits: PoolLimits = {},
  ) {
    this.pool = new pg.Pool({
      connectionString,
      max,
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

  async execute<T = any>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.pool.query({ ...this.statement(sql), values: params as unknown[] });
    return result.rows as T[];
  }

  /**
   * One transaction on one connection. A deadlock or serialization failure is retried from
   * the start after a jittered backoff, so the work must have no effect outside the
   * transaction before it commits. The last failure is thrown when attempts run out.
   */
  async transaction<T>(work: (tx: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 5;
    const begin = ['begin', options.isolation && `isolation level ${options.isolation}`, options.readOnly && 'read only']
      .filter(Boolean)
      .join(' ');
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const tx: Sql = {
        execute: async <R>(sql: string, params: readonly unknown[] = []) =>
          (await client.query({ ...this.statement(sql), values: params as unknown[] })).rows as R[],
      };
      try {
        await client.query(begin);
        const result = await work(tx);
        await client.query('commit');
        client.release();
        return result;
      } catch (error) {
        // A connection that cannot roll back is broken: the pool must not hand it out again.
        const broken = await client.query('rollback').then(() => false, () => true);
        client.release(broken);
        if (attempt >= attempts || !isConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      }
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /** `?` placeholders become `$1…$n` once per distinct text; the text's hash names the statement. */
  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      // Texts built with varying pieces could be unbounded; past the cap they go unnamed.
      const named = this.statements.size < MAX_NAMED_STATEMENTS;
      statement = named ? { name: `p_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text } : { text };
      if (named) this.statements.set(sql, statement);
    }
    return statement;
  }
}
