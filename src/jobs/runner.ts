import type { Database } from '../db/database';
import cron, { type ScheduledTask } from 'node-cron';
import { Client } from 'pg';
import { badInput } from '../errors';
import { createLogger, type Logger } from '../logger';
import { type Clock, systemClock } from '../services/shared';
import type { LedgerJobs } from '../services/ledger';

/** A named piece of scheduled work; `run` must be idempotent for a given `asOf`. */
export interface JobDefinition {
  name: string;
  /** A node-cron expression (seconds optional). */
  schedule: string;
  /** `logger` is the runner's: a job builds its services' contexts with it (`jobContext`). */
  run(asOf: Date, logger: Logger): Promise<Record<string, number>>;
}

export interface JobRunResult {
  job: string;
  asOf: Date;
  /** True when another run of this job (on any instance) held the lock, so this one did nothing. */
  skipped: boolean;
  result: Record<string, number>;
}

export interface JobRunnerOptions {
  clock?: Clock;
  logger?: Logger;
  /** Time zone of the schedules (node-cron's `timezone`); UTC by default. */
  timezone?: string;
}

/** The ledger's jobs with their default schedules. */
export function ledgerJobDefinitions(jobs: LedgerJobs): JobDefinition[] {
  return [
    { name: 'expire-lots', schedule: '* * * * *', run: (asOf) => jobs.expireLots(asOf) },
    { name: 'activate-lots', schedule: '* * * * *', run: (asOf) => jobs.activatePendingLots(asOf) },
    { name: 'release-authorizations', schedule: '* * * * *', run: (asOf) => jobs.releaseStaleAuthorizations(asOf) },
  ];
}

/**
 * Runs named jobs on their schedules and on demand. Every run holds a PostgreSQL advisory lock
 * named after the job on a connection of its own, so across all instances one job runs at most
 * once at a time; a run that finds the lock taken is skipped, not queued.
 */
export class JobRunner {
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<Promise<JobRunResult>>();
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(
    private readonly db: Database,
    private readonly options: JobRunnerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? createLogger('silent');
  }

  register(job: JobDefinition): this {
    if (this.jobs.has(job.name)) throw new Error(`Job ${job.name} is already registered`);
    if (!cron.validate(job.schedule)) throw new Error(`Job ${job.name} has an invalid schedule: ${job.schedule}`);
    this.jobs.set(job.name, job);
    return this;
  }

  get jobNames(): string[] {
    return [...this.jobs.keys()];
  }

  /** Runs a job now; `asOf` (default: the clock's now) lets an admin catch up a missed run. */
  async runJob(name: string, asOf?: Date): Promise<JobRunResult> {
    const job = this.jobs.get(name);
    if (!job) throw badInput(`Unknown job ${name}; known jobs: ${this.jobNames.join(', ')}`, { field: 'job', value: name });
    if (asOf && Number.isNaN(asOf.getTime())) throw badInput('asOf must be a valid time', { field: 'asOf' });
    const now = this.clock.now();
    // Catching up a missed run is fine; running ahead would burn points before their time.
    if (asOf && asOf > now) throw badInput('asOf cannot be in the future', { field: 'asOf' });
    const run = this.runLocked(job, asOf ?? now);
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  /** Starts every registered job's schedule. */
  start(): void {
    if (this.tasks.length > 0) return;
    for (const job of this.jobs.values()) {
      const task = cron.schedule(
        job.schedule,
        async () => {
          try {
            const outcome = await this.runJob(job.name);
            if (outcome.skipped) this.options.logger?.debug({ job: job.name }, 'Job skipped: running elsewhere');
            // A run that found nothing to do stays quiet: every minute would otherwise say so.
            else if (didWork(outcome.result)) this.options.logger?.info({ job: job.name, result: outcome.result }, 'Job finished');
            else this.options.logger?.debug({ job: job.name }, 'Job found nothing to do');
          } catch (error) {
            this.options.logger?.error({ err: error, job: job.name }, 'Job failed');
          }
        },
        { name: `patron:${job.name}`, timezone: this.options.timezone ?? 'UTC', noOverlap: true },
      );
      this.tasks.push(task);
    }
  }

  /** Stops the schedules and waits for runs in progress, so the process can exit and the ORM can close. */
  async stop(): Promise<void> {
    const tasks = this.tasks.splice(0);
    await Promise.all(tasks.map((task) => task.destroy()));
    await Promise.allSettled([...this.running]);
  }

  private async runLocked(job: JobDefinition, asOf: Date): Promise<JobRunResult> {
    // A session lock needs one connection for the whole run; the pool would hand out another
    // each statement. If this connection drops, the lock goes with it.
    const lockConnection = new Client({ connectionString: this.db.connectionString });
    // A dropped connection fails the run (its lock is gone too); unheard, its 'error' event would end the process.
    lockConnection.on('error', () => undefined);
    await lockConnection.connect();
    try {
      const lockKey = `patron-job:${job.name}`;
      const { rows } = await lockConnection.query('select pg_try_advisory_lock(hashtext($1)) as locked', [lockKey]);
      if (!rows[0].locked) return { job: job.name, asOf, skipped: true, result: {} };
      return { job: job.name, asOf, skipped: false, result: await job.run(asOf, this.logger) };
    } finally {
      // Closing the session releases its advisory lock; no explicit unlock that could fail after the work.
      await lockConnection.end().catch(() => undefined);
    }
  }
}

/** A runner with the ledger's jobs registered. */
export function createJobRunner(db: Database, ledgerJobs: LedgerJobs, options: JobRunnerOptions = {}): JobRunner {
  const runner = new JobRunner(db, options);
  for (const job of ledgerJobDefinitions(ledgerJobs)) runner.register(job);
  return runner;
}

/** A job's counts say it did something (other than counting the programs it looked at). */
export function didWork(result: Record<string, number>): boolean {
  return Object.entries(result).some(([name, count]) => name !== 'programs' && name !== 'batches' && count !== 0);
}
