/**
 * Typed SQL. Every statement the services run is declared once, in its module's store, with a
 * readable name, its parameter tuple and its row type:
 *
 * ```ts
 * const lockAccount = statement<[memberId: string], AccountRow>('ledger.lock_account', `select … where id = ? for update`);
 * const [row] = await tx.run(lockAccount, [memberId]);
 * ```
 *
 * The name is the prepared statement's name on every connection (PostgreSQL plans it once per
 * connection, and `pg_stat_statements`/logs show what ran), and the registry lets a test PREPARE
 * every declared statement against the migrated schema, so a migration that breaks a query fails
 * beside the query, not far from it.
 */
export interface Statement<P extends readonly unknown[] = readonly unknown[], R = unknown> {
  /** `<module>.<what_it_does>`, unique. */
  readonly name: string;
  /** The SQL with `$n` placeholders. */
  readonly text: string;
  /** Phantom: ties the parameter tuple and row type to the statement. */
  readonly __types?: { params: P; row: R };
}

const NAME = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;
/** PostgreSQL truncates identifiers (prepared statement names included) past 63 bytes. */
const MAX_NAME = 63;

const declared = new Map<string, Statement>();

/** Declares a statement; `?` placeholders become `$1…$n` in order. */
export function statement<P extends readonly unknown[], R = Record<string, never>>(name: string, sql: string): Statement<P, R> {
  if (!NAME.test(name) || name.length > MAX_NAME) throw new Error(`Statement name '${name}' must be <module>.<snake_case>, ≤ ${MAX_NAME} characters`);
  const existing = declared.get(name);
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  if (existing) {
    if (existing.text !== text) throw new Error(`Statement '${name}' is declared twice with different SQL`);
    return existing as Statement<P, R>;
  }
  const declaredStatement: Statement<P, R> = Object.freeze({ name, text });
  declared.set(name, declaredStatement);
  return declaredStatement;
}

/** Every statement declared so far (stores declare theirs when they are loaded). */
export function declaredStatements(): Statement[] {
  return [...declared.values()];
}

/** Runs declared statements: the pool, or the connection of a unit of work. */
export interface Queryable {
  run<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R[]>;
}
