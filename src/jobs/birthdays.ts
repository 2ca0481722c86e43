import type { BirthdayRun, EventService } from '../services/earning';
import { BirthdayRunError } from '../services/earning';
import { jobContext } from '../services/shared';
import type { JobDefinition } from './runner';

const JOB = 'birthdays';

/**
 * The birthday job: `runner.register(birthdayJob(services))`. Every quarter hour, because each
 * program's day starts at its own midnight (some zones are :30 or :45 off UTC).
 *
 * It runs the birthdays of each program in that program's own job context (`jobContext`): the
 * service works for one program like every other use case, and what it logs names the program
 * and the job. A program whose members fail does not stop the others; the run then fails with
 * the counts of all programs and the first error, and the next run retries the failed members.
 */
export function birthdayJob(services: { events: EventService }, schedule = '*/15 * * * *'): JobDefinition {
  return {
    name: JOB,
    schedule,
    // A missed night replays its day: the job raises a birthday once per member and year.
    catchUp: 'daily',
    run: async (asOf, logger) => {
      const total: BirthdayRun = { programs: 0, raised: 0, points: 0, failed: 0 };
      let firstError: unknown;
      for (const programId of await services.events.birthdayPrograms()) {
        let run: BirthdayRun;
        try {
          run = await services.events.birthdays(jobContext(programId, JOB, logger), asOf);
        } catch (error) {
          if (!(error instanceof BirthdayRunError)) throw error;
          run = error.run;
          firstError ??= error.cause;
        }
        total.programs += run.programs;
        total.raised += run.raised;
        total.points += run.points;
        total.failed += run.failed;
      }
      if (firstError) throw new Error(`${total.failed} birthday(s) failed, ${total.raised} raised: ${(firstError as Error).message}`);
      return { ...total };
    },
  };
}
