/**
 * The server under test, in a process of its own so the load generator never shares its event
 * loop. Started by bench/run.ts with DATABASE_URL, PATRON_ADMIN_KEY, PATRON_JOBS=off and
 * LOG_LEVEL=silent; it reports its port over IPC, answers CPU-time probes and stops cleanly
 * when asked over IPC (so that a `--cpu-prof` run writes its profile).
 */
import 'reflect-metadata';
import { startApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('bench/server-entry needs DATABASE_URL');
  const app = await startApp({ config, databaseUrl: config.databaseUrl, logger: createLogger(config.logLevel) });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await app.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
  // The bench asks for the server's CPU time around each measured window.
  process.on('message', (m: any) => {
    if (m?.cpu) process.send?.({ cpu: process.cpuUsage(), id: m.id });
    // Asked to stop over IPC, so a `--cpu-prof` run writes its profile before exiting.
    if (m?.stop) void stop();
  });
  process.send?.({ ready: true, port: app.port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
