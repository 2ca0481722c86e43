import type { RequestContext } from '../../src/services/shared';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Database } from '../../src/db/database';
import { openOrm } from '../../src/db/orm';
import { RuleStatus } from '../../src/entities/rule';
import { createServices, type Services } from '../../src/services';
import { ManualClock } from '../../src/services/shared';
import { OutboxRelay, type EventPublisher } from '../../src/services/realtime';

import type { RuleDefinitionInput } from '../../src/services/earning';
import { testContext } from './context';
import { createTestDatabase, type TestDatabase } from './database';

/** The real service wiring (rules, earning, events, the registration hook) on a database of the suite's own. */
export interface RulesHarness {
  db: TestDatabase;
  orm: MikroORM;
  /** The pool services run on. */
  database: Database;
  clock: ManualClock;
  /** What the outbox relay published; it runs when a test calls `publishOutbox`. */
  published: Array<{ topic: string; id: string; payload: any }>;
  publishOutbox(): Promise<void>;
  services: Services;
  programId: string;
  /** The program's admin and storefront keys, as the contexts services take first. */
  admin: RequestContext;
  server: RequestContext;
  /** A new member; no rule exists for registration unless the test made one. */
  member(externalId: string, extra?: { birthday?: string; referrerExternalId?: string; tags?: string[] }): Promise<string>;
  /** An active rule. */
  rule(name: string, definition: RuleDefinitionInput): Promise<{ id: string; versionId: string }>;
  balance(memberId: string): Promise<{ available: number; pending: number }>;
  count(sql: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export async function rulesHarness(start = new Date('2026-03-10T09:00:00Z')): Promise<RulesHarness> {
  const db = await createTestDatabase();
  const orm = await openOrm(db.url, 20);
  const database = new Database(db.url, 20);
  const clock = new ManualClock(start);
  const published: RulesHarness['published'] = [];
  const publisher: EventPublisher = { publish: (topic, id, payload) => published.push({ topic, id, payload }) };
  const services = createServices(database, orm, clock, { customerTokenTtlSeconds: 900 });
  const relay = new OutboxRelay(database, publisher, console);
  const { programId } = await services.access.bootstrap('test-operator-key-000000000000');
  const admin = testContext(programId, 'admin');
  return {
    db, orm, database, clock, published, services, programId, admin,
    publishOutbox: () => relay.flush(),
    server: testContext(programId, 'server'),
    async member(externalId, extra = {}) {
      const { member } = await services.members.upsert(admin, { externalId, ...extra });
      return member.id;
    },
    async rule(name, definition) {
      const rule = await services.rules.createRule(admin, { name, status: RuleStatus.ACTIVE, definition });
      return { id: rule.id, versionId: rule.versionId };
    },
    async balance(memberId) {
      const [row] = await orm.em.fork().execute('select available, pending from account where member_id = ?', [memberId]);
      return { available: Number(row.available), pending: Number(row.pending) };
    },
    async count(sql, params = []) {
      const [row] = await orm.em.fork().execute(sql, params);
      return Number(Object.values(row)[0]);
    },
    close: async () => {
      await database.close();
      await orm.close(true);
      await db.drop();
    },
  };
}

/** Runs the calls at the same moment and returns how each one settled. */
export function together<T>(...calls: Array<() => Promise<T>>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(calls.map((call) => call()));
}

/**
 * A suite's harness, opened before its tests and closed after them (read `suite.h` inside
 * tests), and `suite.key`, idempotency keys and ids unique within the suite.
 */
export function rulesSuite(start?: Date): { readonly h: RulesHarness; key(prefix?: string): string } {
  let harness: RulesHarness | undefined;
  let seq = 0;
  beforeAll(async () => {
    harness = await rulesHarness(start);
  });
  afterAll(() => harness?.close());
  return {
    get h() {
      if (!harness) throw new Error('rulesSuite: the harness opens in beforeAll');
      return harness;
    },
    key: (prefix = 'k') => `${prefix}-${++seq}`,
  };
}
