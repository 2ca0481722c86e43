import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config';
import { Database } from './db/database';
import { migrate, openOrm } from './db/orm';
import type { Logger } from './logger';
import { PgPubSub } from './graphql/pubsub';
import { createSchema } from './graphql/schema';
import { createHttpServer } from './server';
import { createServices, type Services } from './services';
import { systemClock, type Clock } from './services/clock';
import { createJobRunner } from './jobs/runner';
import { LedgerJobs } from './services/ledger-jobs';
import { birthdayJob } from './services/event-service';
import { requalifyTiersJob } from './services/tiers';

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
  close(): Promise<void>;
}

/** Wires the database, domain, pub/sub and servers; `close` undoes it in reverse order. */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  // MikroORM owns the schema (entities, committed migrations); services run on the pool below.
  const orm = await openOrm(options.databaseUrl, 2);
  await migrate(orm);
  const db = new Database(options.databaseUrl, config.dbPoolMax);
  const pubsub = new PgPubSub({ connectionString: options.databaseUrl, logger: logger.child({ module: 'pubsub' }) });
  await pubsub.start();
  const services = createServices(db, clock, pubsub, config);
  const { generatedAdminKey } = await services.access.bootstrap(config.adminKey);
  const jobs = createJobRunner(db, new LedgerJobs(db, services.ledger, pubsub, { logger }), { clock, logger });
  jobs.register(birthdayJob(services));
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
    close: async () => {
      await jobs.stop();
      await server.close();
      await pubsub.close();
      await db.close();
      await orm.close(true);
    },
  };
}
