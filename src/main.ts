import 'reflect-metadata';
import { ConfigError, loadConfig } from './config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded';
import { createLogger } from './logger';
import { startApp } from './app';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    logger.info({ dataDir: config.dataDir, port: config.embeddedPgPort }, 'DATABASE_URL is unset: starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      persistent: true,
      logger,
      // Restarted when it dies; only when that keeps failing does the server give up.
      onLost: (error) => {
        logger.fatal({ err: error }, 'embedded PostgreSQL is gone and could not be restarted; exiting');
        console.error(`Patron stopped: ${explain(error)}`);
        process.exit(1);
      },
    });
    databaseUrl = embedded.url;
  }
  let app;
  try {
    app = await startApp({ config, databaseUrl, logger });
  } catch (error) {
    // Not leave an orphaned PostgreSQL holding the port for the next start.
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
  if (app.generatedAdminKey) {
    // Printed once: only its hash is stored.
    console.log(`\n  Operator admin key (shown once, keep it safe):\n  ${app.generatedAdminKey}\n`);
  }
  logger.info({ url: `http://localhost:${app.port}/graphql` }, 'Patron is ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    try {
      await app.close();
      await embedded?.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'unclean stop');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** One readable line for any failure, including the odd ones (no message, an AggregateError, not an Error). */
function explain(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(explain).join('; ');
  if (error instanceof Error) return error.message || error.name + ((error as { code?: string }).code ? ` ${(error as { code?: string }).code}` : '');
  return error === undefined ? 'unknown error (nothing was thrown)' : String(error);
}

main().catch((error: unknown) => {
  console.error(`Patron could not start: ${explain(error)}`);
  if (error instanceof Error && process.env.LOG_LEVEL === 'debug') console.error(error.stack);
  process.exit(1);
});
