import type { RequestContext } from '../../src/services/shared';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Database } from '../../src/db/database';
import { openOrm } from '../../src/db/orm';
import { AccessService, type CreatedApiKey } from '../../src/services/access';
import { DomainHooks, ManualClock } from '../../src/services/shared';
import { MissedEvents, OutboxRelay, type EventPublisher } from '../../src/services/realtime';
import { LedgerService } from '../../src/services/ledger';
import { MemberService } from '../../src/services/members';
import { ProgramService } from '../../src/services/programs';
import { testContext } from './context';
import { createTestDatabase, type TestDatabase } from './database';

/** Services wired to a database of the suite's own, with a clock the test moves. */
export interface ServiceHarness {
  db: TestDatabase;
  orm: MikroORM;
  /** The pool services run on. */
  database: Database;
  clock: ManualClock;
  /** What the outbox relay published; it runs when a test calls `publishOutbox`. */
  events: Array<{ topic: string; id: string; payload: any }>;
  publishOutbox(): Promise<void>;
  ledger: LedgerService;
  members: MemberService;
  access: AccessService;
  missedEvents: MissedEvents;
  programs: ProgramService<CreatedApiKey>;
  programId: string;
  server: RequestContext;
  admin: RequestContext;
  close(): Promise<void>;
}

export async function serviceHarness(start = new Date('2026-01-10T09:00:00Z')): Promise<ServiceHarness> {
  const db = await createTestDatabase();
  const orm = await openOrm(db.url, 10);
  const database = new Database(db.url, 10);
  const clock = new ManualClock(start);
  const events: ServiceHarness['events'] = [];
  const publisher: EventPublisher = { publish: (topic, id, payload) => events.push({ topic, id, payload }) };
  const members = new MemberService(database, clock);
  const ledger = new LedgerService(database, clock);
  // A registration opens the member's account through the ledger's hook.
  const hooks = new DomainHooks();
  ledger.subscribe(hooks);
  database.setDispatcher(hooks.dispatch);
  const programs: ProgramService<CreatedApiKey> = new ProgramService(orm, clock, (em, program) => access.firstAdminKey(em, program));
  const access = new AccessService(orm, database, clock, members, programs, { customerTokenTtlSeconds: 900 });
  const relay = new OutboxRelay(database, publisher, console);
  const { programId } = await access.bootstrap('test-operator-key-000000000000');
  return {
    db, orm, database, clock, events, ledger, members, access, programs, programId,
    missedEvents: new MissedEvents(database),
    publishOutbox: () => relay.flush(),
    server: testContext(programId, 'server'),
    admin: testContext(programId, 'admin'),
    close: async () => {
      await database.close();
      await orm.close(true);
      await db.drop();
    },
  };
}
