import type { Database } from '../db/database';
import cron, { type ScheduledTask } from 'node-cron';
import { Client } from 'pg';
import { badInput } from '../errors';
import { createLogger, type Logger } from '../logger';
import { type Clock, systemClock } from '../services/shared';
import type { LedgerJobs } from '../services/ledger';
import { lastJobRun, recordJobRun } from '../db/job-run-store';

/** A named piece of scheduled work; `run` must be idempotent for a given `asOf`. */
export interface JobDefinition {
  name: string;
  /** A node-cron expression (seconds optional). */
  schedule: string;
  /** `logger` is the runner's: a job builds its services' contexts with it (`jobContext`). */
  run(asOf: Date, logger: Logger): Promise<Record<string, number>>;
  /**
   * How a start catches up runs that no instance made (see {@link JobRunner.catchUp}):
   * `once` (the default) runs once at now — right for jobs that act on the state as of now;
   * `daily` replays each missed day (asOf = the last run + 24 h, + 48 h, … up to now) — for jobs
   * that act on a calendar day, such as birthdays. Replays must be idempotent.
   */
  catchUp?: 'once' | 'daily';
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
  /** How far back a start catches up missed runs, in hours (0: not at all); 48 by default. */
  catchUpHours?: number;
}

/** What {@link JobRunner.catchUp} ran for one job. */
export interface CatchUp {
  job: string;
  lastCompletedAsOf: Date;
  ran: Date[];
  /** Missed runs older than the bound, not replayed. */
  dropped: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A `once` job whose last run is older than this missed runs (the schedules are per minute). */
const ONCE_GAP_MS = 5 * 60_000;

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
  private catchingUp: Promise<unknown> | null = null;
  private stopped = false;
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

  /** Starts every registered job's schedule, and catches up what was missed while none ran. */
  start(): void {
    if (this.tasks.length > 0) return;
    this.stopped = false;
    this.catchingUp = this.catchUp().catch((error) => this.logger.error({ err: error }, 'Catching up missed job runs failed'));
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
    this.stopped = true;
    await this.catchingUp;
    const tasks = this.tasks.splice(0);
    await Promise.all(tasks.map((task) => task.destroy()));
    await Promise.allSettled([...this.running]);
  }

  /**
   * Runs what no instance ran while all were down, from each job's last completed run (table
   * `job_run`) but not further back than `catchUpHours`, and logs it. A job that never completed
   * a run has nothing known to be missed. A replay another instance is running (the lock is
   * taken) ends that job's catch-up: that instance is doing it.
   */
  async catchUp(): Promise<CatchUp[]> {
    const hours = this.options.catchUpHours ?? 48;
    if (hours <= 0) return [];
    const done: CatchUp[] = [];
    for (const job of this.jobs.values()) {
      const [row] = await this.db.run(lastJobRun, [job.name]);
      if (!row) continue;
      const now = this.clock.now();
      const last = new Date(row.last_completed_as_of);
      const missed = missedRuns(job, last, now);
      const due = missed.filter((asOf) => asOf.getTime() >= now.getTime() - hours * HOUR_MS);
      if (missed.length === 0) continue;
      const ran: Date[] = [];
      for (const asOf of due) {
        if (this.stopped) break;
        const outcome = await this.runJob(job.name, asOf);
        if (outcome.skipped) break;
        ran.push(asOf);
      }
      const entry = { job: job.name, lastCompletedAsOf: last, ran, dropped: missed.length - due.length };
      this.logger.info({ job: job.name, lastCompletedAsOf: last, ran, dropped: entry.dropped, catchUpHours: hours }, 'Job caught up missed runs');
      done.push(entry);
    }
    return done;
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
      const result = await job.run(asOf, this.logger);
      // Recorded while the lock is held, so catching up sees every run that completed.
      await this.db.run(recordJobRun, [job.name, asOf, this.clock.now()]);
      return { job: job.name, asOf, skipped: false, result };
    } finally {
      // Closing the session releases its advisory lock; no explicit unlock that could fail after the work.
      await lockConnection.end().catch(() => undefined);
    }
  }
}

/** The runs a job missed between its last completed run and now (oldest first). */
export function missedRuns(job: Pick<JobDefinition, 'catchUp'>, last: Date, now: Date): Date[] {
  if (job.catchUp === 'daily') {
    // Any local calendar day, in any time zone, is a 24-hour span: steps of 24 h from the last
    // run land in each day once; the day that holds now ends with the run at now.
    const runs: Date[] = [];
    for (let t = last.getTime() + DAY_MS; t < now.getTime(); t += DAY_MS) runs.push(new Date(t));
    return now.getTime() - last.getTime() >= DAY_MS ? [...runs, now] : runs;
  }
  return now.getTime() - last.getTime() > ONCE_GAP_MS ? [now] : [];
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
