/**
 * What the bench reads from PostgreSQL around the rows: whether the outbox relay caught up,
 * which autovacuum passes overlapped a row, a row's costliest statements (BENCH_PG_STATEMENTS),
 * and verifyLedger after the run.
 */
import type { Client } from 'pg';
import type { Measurement } from './load';

/** Waits until the relay has published every committed outbox event (a big run leaves thousands behind it). */
export async function waitForOutbox(db: Client, log: (msg: string) => void, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [{ n }] = (await db.query('select count(*)::int as n from outbox_unpublished')).rows;
    if (n === 0) return;
    if (Date.now() > until) {
      log(`  ! ${n} outbox events still unpublished after ${timeoutMs / 1000} s`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Finished autovacuum and autoanalyze passes so far, by table. */
export async function autovacuumPasses(db: Client): Promise<Map<string, { vacuums: number; analyzes: number }>> {
  const { rows } = await db.query<{ relname: string; vacuums: number; analyzes: number }>(
    'select relname, autovacuum_count::int as vacuums, autoanalyze_count::int as analyzes from pg_stat_user_tables',
  );
  return new Map(rows.map((r) => [r.relname, { vacuums: r.vacuums, analyzes: r.analyzes }]));
}

/** The passes that finished since `before`, and those still running (`lot: vacuum running`). */
export async function autovacuumDuring(db: Client, before: Map<string, { vacuums: number; analyzes: number }>): Promise<string[]> {
  const passes: string[] = [];
  for (const [table, now] of await autovacuumPasses(db)) {
    const was = before.get(table) ?? { vacuums: 0, analyzes: 0 };
    if (now.vacuums > was.vacuums) passes.push(`${table}: vacuum ×${now.vacuums - was.vacuums}`);
    if (now.analyzes > was.analyzes) passes.push(`${table}: analyze ×${now.analyzes - was.analyzes}`);
  }
  const { rows } = await db.query<{ query: string }>(`select query from pg_stat_activity where backend_type = 'autovacuum worker'`);
  for (const r of rows) passes.push(`running: ${r.query.replace(/^autovacuum: /, '')}`);
  return passes;
}

/** The row's costliest statements (execution time, calls and rows per operation of the row), for BENCH_PG_STATEMENTS. */
export async function printStatements(db: Client, row: Measurement, shown: number, log: (msg: string) => void): Promise<void> {
  const { rows } = await db.query(
    `select calls, total_exec_time, plans, total_plan_time, rows, regexp_replace(query, '\\s+', ' ', 'g') as query
       from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
      order by total_exec_time desc limit ${shown}`,
  );
  // Every operation of the window and its warm-up ran these; per-op figures are per measured op, roughly.
  const ops = Math.max(1, row.ops);
  for (const s of rows) {
    // Planning shows only with BENCH_PG_FLAGS=pg_stat_statements.track_planning=on.
    const planning = Number(s.plans) > 0 ? ` (+${((s.total_plan_time / ops) * 1000).toFixed(1)} µs/op planning ${Number(s.plans) / ops >= 0.01 ? (Number(s.plans) / ops).toFixed(2) : '0'} plans/op)` : '';
    log(`    ${(s.total_exec_time / ops * 1000).toFixed(1).padStart(7)} µs/op ${(s.calls / ops).toFixed(2).padStart(6)} calls/op ${(Number(s.rows) / Math.max(1, s.calls)).toFixed(1).padStart(7)} rows/call${planning}  ${s.query.slice(0, 150)}`);
  }
}

export async function verifyLedger(databaseUrl: string, programId: string) {
  // Loaded only now: the domain stays out of the load generator's process while it measures.
  const { Database } = await import('../src/db/database');
  const { LedgerAudit } = await import('../src/services/ledger/ledger-audit');
  // Millions of lots after the expiry rows: the one-statement check needs more than the default 30 s.
  const db = new Database(databaseUrl, 2, { statementTimeoutMs: 900_000 });
  try {
    const result = await new LedgerAudit(db).verifyLedger({ programId: programId });
    return { ok: result.ok, accountsChecked: result.accountsChecked, discrepancies: result.discrepancies.length, sample: result.discrepancies.slice(0, 5) };
  } finally {
    await db.close();
  }
}
