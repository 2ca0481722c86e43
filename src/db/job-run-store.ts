import { statement } from './statement';

/** A run completed for `asOf`; an older `asOf` (an admin's catch-up) never moves it back. */
export const recordJobRun = statement<[name: string, asOf: Date, completedAt: Date], never>(
  'jobs.record_run',
  `insert into job_run (name, last_completed_as_of, completed_at) values (?, ?, ?)
   on conflict (name) do update set
     last_completed_as_of = greatest(job_run.last_completed_as_of, excluded.last_completed_as_of),
     completed_at = excluded.completed_at`,
);

export const lastJobRun = statement<[name: string], { last_completed_as_of: Date }>(
  'jobs.last_run',
  'select last_completed_as_of from job_run where name = ?',
);
