import { createHash } from 'node:crypto';
import pg from 'pg';

// Points and money are bounded far below 2^53, so int8 columns read as plain numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** What services need of the database: run a statement with `?` placeholders, get its rows. */
export interface Sql {
  execute<T = any>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure
const MAX_NAMED_STATEMENTS = 1000;

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
  ) {
    this.pool = new pg.Pool({ connectionString, max, options: '-c TimeZone=UTC' });
    // An idle connection that dies (e.g. the server restarts) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  async execute<T = any>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.pool.query({ ...this.statement(sql), values: params as unknown[] });
    return result.rows as T[];
  }

  /**
   * One transaction on one connection. A deadlock or serialization failure is retried from
   * the start, so the work must have no effect outside the transaction before it commits.
   */
  async transaction<T>(work: (tx: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 3;
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
        await client.query('rollback').catch(() => undefined);
        client.release();
        const code = (error as { code?: string }).code;
        if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw error;
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
