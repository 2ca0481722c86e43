import 'reflect-metadata';
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { migrate, openOrm } from '../../src/db/orm';
import { TEMPLATE_DB, withDatabase } from './template';


/**
 * Starts one PostgreSQL for the whole run (embedded unless DATABASE_URL names a server) and
 * builds a migrated template database; each suite copies it into a database of its own.
 */
export default async function globalSetup(): Promise<void> {
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'patron-test-pg-'));
    // The server may run as a separate OS user (when tests run as root): it must reach its folder.
    chmodSync(dataDir, 0o755);
    const port = Number(process.env.PATRON_TEST_PG_PORT ?? 54339);
    // pg_stat_statements, loaded but tracking only where ledger-plans.test.ts turns it on for its own session.
    const settings = ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=none'];
    const db = await startEmbeddedPostgres({ dataDir, port, persistent: false, settings });
    (globalThis as any).__patronEmbedded = db;
    (globalThis as any).__patronEmbeddedDir = dataDir;
    serverUrl = db.url;
  }
  process.env.PATRON_TEST_SERVER_URL = serverUrl;
  const admin = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.query(`create database ${TEMPLATE_DB}`);
  await admin.end();
  const orm = await openOrm(withDatabase(serverUrl, TEMPLATE_DB), 2);
  await migrate(orm);
  await orm.close(true);
  // Suites run in this process too when jest runs in band; they must discover entities afresh.
  delete (globalThis as Record<string, unknown>)['mikro-orm-metadata'];
}
