import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A scheduled job's last completed run; written by the job runner (src/db/job-run-store.ts). */
@Entity({ tableName: 'job_run' })
export class JobRun {
  @PrimaryKey({ type: 'text' })
  name!: string;

  /** The latest `asOf` a run completed for: what catching up starts from. */
  @Property({ type: 'timestamptz' })
  lastCompletedAsOf!: Date;

  @Property({ type: 'timestamptz' })
  completedAt!: Date;
}
