import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config';
import { Database } from './db/database';
import { openAppOrm } from './db/orm';
import type { Logger } from './logger';
import { PgPubSub } from './graphql/pubsub';
import { RedisPubSub } from './graphql/redis-pubsub';
import { createSchema } from './graphql/schema';
import { createHttpServer } from './server';
import { createServices, type Services } from './services';
import { OutboxRelay } from './services/realtime';
import { systemClock, type Clock } from './services/shared';
import { createJobRunner } from './jobs/runner';
import { pruneOutboxJob } from './jobs/outbox';
import { LedgerJobs } from './services/ledger';
import { birthdayJob } from './jobs/birthdays';
import { requalifyTiersJob } from './jobs/tiers';

export interface AppOptions {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  clock?: Clock;
}

export interface RunningApp {
  port: number;
  url: string;
  orm: MikroORM;
  db: Database;
  services: Services;
  /** The operator key, when this start created it (printed once). */
  generatedAdminKey?: string;
  close(options?: { closeIdle?: boolean }): Promise<void>;
}

/** Connections of the ORM's own pool: configuration reads and writes (key checks are cached). */
const ORM_POOL_MAX = 4;

/** Wires the database, domain, pub/sub and servers; `close` undoes it in reverse order. */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  // MikroORM owns the schema (entities, committed migrations) and the configuration aggregates
  // (programs, API keys, rules); the ledger's typed SQL runs on the pool below. The owner role
  // only migrates; everything else connects as the application's role, which owns nothing.
  const { orm, appUrl } = await openAppOrm(options.databaseUrl, config.appDatabaseUrl, ORM_POOL_MAX, logger);
  const db = new Database(appUrl, config.dbPoolMax, {
    statementTimeoutMs: config.dbStatementTimeoutMs,
    idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
  }, logger.child({ module: 'db' }));
  const pubsubLogger = logger.child({ module: 'pubsub' });
  // Between instances: LISTEN/NOTIFY on the database, or Redis when PATRON_REDIS_URL is set.
  const pubsub = config.redisUrl
    ? new RedisPubSub({ url: config.redisUrl, channelPrefix: config.redisChannelPrefix, logger: pubsubLogger })
    : new PgPubSub({ connectionString: appUrl, logger: pubsubLogger });
  await pubsub.start();
  // Committed outbox events go to subscribers through the relay; it first publishes what an
  // earlier run left unpublished.
  const relay = new OutboxRelay(db, pubsub, logger.child({ module: 'outbox' }));
  relay.start();
  const services = createServices(db, orm, clock, config);
  const { generatedAdminKey, reinstated } = await services.access.bootstrap(config.adminKey);
  if (reinstated) logger.warn('the key PATRON_ADMIN_KEY names was revoked or not the operator\'s: it is the live operator key again');
  const jobs = createJobRunner(db, new LedgerJobs(db, services.ledger, { logger }), { clock, logger, catchUpHours: config.jobCatchUpHours });
  jobs.register(birthdayJob(services));
  jobs.register(pruneOutboxJob(relay));
  jobs.register(requalifyTiersJob(services.tiers));
  const schema = await createSchema(pubsub);
  const server = await createHttpServer({ config, schema, services, pubsub, jobs, db, logger, clock });
  const port = await server.listen(config.port, config.host);
  if (config.jobs) jobs.start();
  return {
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    orm,
    db,
    services,
    generatedAdminKey,
    close: async (closeOptions) => {
      await jobs.stop();
      await server.close(closeOptions);
      await relay.stop();
      await pubsub.close();
      await db.close();
      await orm.close(true);
    },
  };
}
