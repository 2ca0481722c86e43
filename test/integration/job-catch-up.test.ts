import { birthdayJob } from '../../src/jobs/birthdays';
import { JobRunner, missedRuns } from '../../src/jobs/runner';
import pino from 'pino';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/** A start catches up the runs no instance made, within a bound: a missed night is not lost. */
let h: RulesHarness;
beforeAll(async () => {
  h = await rulesHarness(new Date('2026-03-10T09:00:00Z'));
  await h.rule('Birthday', { trigger: 'birthday', actions: [{ code: 'fixedPoints', args: { points: 1000 } }], lifetimeDays: 3 });
});
afterAll(() => h.close());

const birthdays = (memberId: string) => h.count(`select count(*) from event where member_id = ? and type = 'birthday'`, [memberId]);

it('replays each missed day of the birthday job within the bound, and records the last run', async () => {
  const lines: any[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const runner = new JobRunner(h.database, { clock: h.clock, logger, catchUpHours: 60 });
  runner.register(birthdayJob(h.services));

  // Nothing ran yet: nothing is known to be missed.
  expect(await runner.catchUp()).toEqual([]);
  await runner.runJob('birthdays'); // 2026-03-10 09:00

  const tooOld = await h.member('bday-11', { birthday: '1990-03-11' });
  const missed = await h.member('bday-12', { birthday: '1990-03-12' });
  const yesterday = await h.member('bday-13', { birthday: '1990-03-13' });
  const today = await h.member('bday-14', { birthday: '1990-03-14' });

  // Every instance was down for four days; the bound (60 h) reaches back to 03-11 21:00.
  h.clock.set(new Date('2026-03-14T09:00:00Z'));
  const [caughtUp] = await runner.catchUp();
  expect(caughtUp).toMatchObject({ job: 'birthdays', dropped: 1 });
  expect(caughtUp!.ran.map((d) => d.toISOString())).toEqual(['2026-03-12T09:00:00.000Z', '2026-03-13T09:00:00.000Z', '2026-03-14T09:00:00.000Z']);
  expect(await birthdays(tooOld)).toBe(0);
  expect(await birthdays(missed)).toBe(1);
  expect(await birthdays(yesterday)).toBe(1);
  expect(await birthdays(today)).toBe(1);
  expect(lines.find((l) => l.msg === 'Job caught up missed runs')).toMatchObject({ job: 'birthdays', dropped: 1 });

  const [row] = await h.database.execute(`select last_completed_as_of from job_run where name = 'birthdays'`);
  expect(new Date(row.last_completed_as_of).toISOString()).toBe('2026-03-14T09:00:00.000Z');

  // Caught up: a second start finds nothing missed; replays raised nothing twice.
  expect(await runner.catchUp()).toEqual([]);
  expect(await birthdays(missed)).toBe(1);
});

it('an admin\'s run for an earlier asOf never moves the last run back', async () => {
  const runner = new JobRunner(h.database, { clock: h.clock, catchUpHours: 48 });
  runner.register(birthdayJob(h.services));
  await runner.runJob('birthdays', new Date('2026-03-01T00:00:00Z'));
  const [row] = await h.database.execute(`select last_completed_as_of from job_run where name = 'birthdays'`);
  expect(new Date(row.last_completed_as_of).toISOString()).toBe('2026-03-14T09:00:00.000Z');
});

it('a minute job catches up with one run at now; 0 hours turns catching up off', async () => {
  const runs: Date[] = [];
  const job = { name: 'tick', schedule: '* * * * *', run: async (asOf: Date) => (runs.push(asOf), { ticked: 1 }) };
  const runner = new JobRunner(h.database, { clock: h.clock, catchUpHours: 48 }).register(job);
  await runner.runJob('tick');
  h.clock.set(new Date(h.clock.now().getTime() + 3 * 3_600_000));
  const off = new JobRunner(h.database, { clock: h.clock, catchUpHours: 0 }).register({ ...job });
  expect(await off.catchUp()).toEqual([]);
  const [caughtUp] = await runner.catchUp();
  expect(caughtUp!.ran).toEqual([h.clock.now()]);
  expect(runs).toHaveLength(2);
});

it('daily steps land in every local calendar day between the last run and now', () => {
  const last = new Date('2026-03-10T23:30:00Z');
  const runs = missedRuns({ catchUp: 'daily' }, last, new Date('2026-03-13T01:00:00Z'));
  expect(runs.map((d) => d.toISOString())).toEqual(['2026-03-11T23:30:00.000Z', '2026-03-12T23:30:00.000Z', '2026-03-13T01:00:00.000Z']);
  expect(missedRuns({ catchUp: 'daily' }, last, new Date('2026-03-11T10:00:00Z'))).toEqual([]);
  expect(missedRuns({}, last, new Date('2026-03-10T23:33:00Z'))).toEqual([]);
});
