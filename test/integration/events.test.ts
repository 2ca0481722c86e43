import { birthdayJob } from '../../src/jobs/birthdays';
import { jobContext } from '../../src/services/shared';
import { RuleStatus } from '../../src/entities/rule';
import { testContext, testLogger } from '../support/context';
import { rulesHarness, together, type RulesHarness } from '../support/rules-harness';

let h: RulesHarness;
let seq = 0;
const key = () => `events-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-03-10T09:00:00Z'));
  await h.rule('Survey', { trigger: 'survey_answer', actions: [{ code: 'fixedPoints', args: { points: 15 } }] });
  await h.rule('Birthday', { trigger: 'birthday', actions: [{ code: 'fixedPoints', args: { points: 1000 } }], lifetimeDays: 3 });
});
afterAll(() => h.close());

const eventCount = (memberId: string, type: string) =>
  h.count('select count(*) from event where member_id = ? and type = ?', [memberId, type]);

describe('trackEvent', () => {
  it('a replay returns the first result and awards nothing twice; the same key with other input conflicts', async () => {
    const memberId = await h.member('replay-1');
    const input = { type: 'survey_answer', member: { id: memberId }, payload: { score: 9 }, idempotencyKey: 'survey-replay' };
    const [first, second] = await together(() => h.services.events.trackEvent(h.server, input), () => h.services.events.trackEvent(h.server, input));
    const third = await h.services.events.trackEvent(h.server, input);
    expect(first.status === 'fulfilled' && second.status === 'fulfilled').toBe(true);
    const results = [first, second].map((r) => (r as PromiseFulfilledResult<any>).value);
    expect(JSON.stringify(results[1])).toBe(JSON.stringify(results[0]));
    expect(JSON.stringify(third)).toBe(JSON.stringify(results[0]));
    expect(third.memberPoints).toBe(15);
    expect(third.event).toMatchObject({ type: 'survey_answer', memberId, payload: { score: 9 }, idempotencyKey: 'survey-replay' });
    expect(third.event.occurredAt).toBeInstanceOf(Date);
    expect(await h.balance(memberId)).toEqual({ available: 15, pending: 0 });
    expect(await eventCount(memberId, 'survey_answer')).toBe(1);
    await expect(
      h.services.events.trackEvent(h.server, { ...input, payload: { score: 3 } }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
  });

  it('a pool full of event transactions loads the expired rules on one of them, not on a connection none will free', async () => {
    // 30 events at once on a pool of 20: every connection is taken by a transaction that comes to
    // earning and needs the active rules, which have just been forgotten.
    const members = await Promise.all(Array.from({ length: 30 }, (_, i) => h.member(`pool-full-${i}`)));
    h.services.rules.invalidate(h.programId);
    const started = Date.now();
    const results = await Promise.allSettled(
      members.map((memberId) => h.services.events.trackEvent(h.server, { type: 'survey_answer', member: { id: memberId }, payload: { score: 8 }, idempotencyKey: key() })),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect(results.map((r) => (r as PromiseFulfilledResult<any>).value.memberPoints)).toEqual(members.map(() => 15));
    // Nobody waited for the pool's 10-second timeout.
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('a quote loading the expired rules on the pool does not hold up the transactions that fill it', async () => {
    const members = await Promise.all(Array.from({ length: 30 }, (_, i) => h.member(`pool-quote-${i}`)));
    h.services.rules.invalidate(h.programId);
    const started = Date.now();
    // The events take every connection first; the quote's load then waits for one in the pool.
    const events = members.map((memberId) =>
      h.services.events.trackEvent(h.server, { type: 'survey_answer', member: { id: memberId }, payload: { score: 8 }, idempotencyKey: key() }));
    const quote = h.services.earning.preview(h.programId, members[0], { trigger: 'survey_answer', occurredAt: new Date(), payload: { score: 8 } }, new Date());
    const results = await Promise.allSettled([...events, quote]);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect((results.at(-1) as PromiseFulfilledResult<{ memberPoints: number }>).value.memberPoints).toBe(15);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('publishes the balance change after commit, once', async () => {
    const memberId = await h.member('publish-1');
    const before = h.published.length;
    await h.services.events.trackEvent(h.server, { type: 'survey_answer', member: { id: memberId }, payload: { score: 5 }, idempotencyKey: key() });
    await h.publishOutbox();
    const mine = h.published.slice(before).filter((e) => e.id === memberId && e.topic === 'BALANCE_CHANGED');
    expect(mine.map((e) => [e.topic, e.payload.entry.amount, e.payload.balances.available])).toEqual([['BALANCE_CHANGED', 15, 15]]);
  });

  it.each([
    ['survey_answer', { score: 11 }, 'payload.score'],
    ['survey_answer', { score: 7.5 }, 'payload.score'],
    ['survey_answer', {}, 'payload.score'],
    ['product_review', { rating: 5 }, 'payload.sku'],
    ['product_review', { sku: 'BALL', rating: 0 }, 'payload.rating'],
    ['external_visit', { referrer: 'javascript:alert(1)' }, 'payload.referrer'],
    ['external_visit', {}, 'payload.utm'],
    ['external_visit', { utm: { source: 5 } }, 'payload.utm'],
    ['birthday', {}, 'type'],
    ['order_paid', {}, 'type'],
    ['registration', {}, 'type'],
    ['Not A Type', {}, 'type'],
  ])('refuses %s with %j naming %s, and writes nothing', async (type, payload, field) => {
    const memberId = await h.member(`invalid-${++seq}`);
    const counts = () => Promise.all(['event', 'idempotency_record', 'ledger_entry'].map((t) => h.count(`select count(*) from ${t}`)));
    const before = await counts();
    await expect(
      h.services.events.trackEvent(h.server, { type, member: { id: memberId }, payload, idempotencyKey: key() }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field } });
    expect(await counts()).toEqual(before);
  });

  it('accepts the known shapes and custom types', async () => {
    const memberId = await h.member('shapes-1');
    const ok = (type: string, payload: Record<string, unknown>) =>
      h.services.events.trackEvent(h.server, { type, member: { id: memberId }, payload, idempotencyKey: key() });
    await ok('external_visit', { utm: { source: 'blog', campaign: 'spring' }, referrer: 'https://blog.example/post' });
    await ok('product_review', { sku: 'BALL', rating: 5 });
    await ok('newsletter_subscription', { channel: 'email' });
    await ok('social_share', { network: 'vk' });
    expect(await h.count('select count(*) from event where member_id = ?', [memberId])).toBe(5); // + registration
  });

  it('an unknown member is NOT_FOUND and nothing is kept', async () => {
    await expect(
      h.services.events.trackEvent(h.server, { type: 'social_share', member: { externalId: 'nobody' }, idempotencyKey: 'nobody-1' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await h.count(`select count(*) from idempotency_record where key = 'nobody-1'`)).toBe(0);
  });
});

describe('registration (E1)', () => {
  it('registering a member raises one registration event in the same transaction; re-upserting raises none', async () => {
    await h.rule('Welcome', { trigger: 'registration', actions: [{ code: 'fixedPoints', args: { points: 500 } }] });
    const memberId = await h.member('welcome-1');
    await h.member('welcome-1');
    const [a, b] = await together(() => h.member('welcome-race'), () => h.member('welcome-race'));
    expect(a.status === 'fulfilled' && b.status === 'fulfilled' && a.value === b.value).toBe(true);
    expect(await eventCount(memberId, 'registration')).toBe(1);
    expect(await h.balance(memberId)).toEqual({ available: 500, pending: 0 });
    const raced = (a as PromiseFulfilledResult<string>).value;
    expect(await eventCount(raced, 'registration')).toBe(1);
    expect(await h.balance(raced)).toEqual({ available: 500, pending: 0 });
    expect(await h.count(`select count(*) from idempotency_record where key = ?`, [`sys:registration:${memberId}`])).toBe(1);
  });

  it('a referrer that does not exist fails the registration and creates nothing', async () => {
    await expect(h.services.members.upsert(h.admin, { externalId: 'orphan', referrerExternalId: 'ghost' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { field: 'referrerExternalId' },
    });
    expect(await h.count(`select count(*) from member where external_id = 'orphan'`)).toBe(0);
  });

  it('the referrer is bound at registration only', async () => {
    await h.member('ref-a');
    await h.member('ref-b');
    const child = await h.member('ref-child', { referrerExternalId: 'ref-a' });
    await h.member('ref-child', { referrerExternalId: 'ref-b' });
    const [row] = await h.orm.em.fork().execute(
      `select r.external_id from member m join member r on r.id = m.referrer_id where m.id = ?`, [child]);
    expect(row.external_id).toBe('ref-a');
  });
});

describe('the birthday job (E2)', () => {
  const run = (asOf: string) => h.services.events.birthdays(jobContext(h.programId, 'birthdays', testLogger), new Date(asOf));
  const birthdays = (memberId: string) => eventCount(memberId, 'birthday');

  it('raises birthdays of the program\'s local today, once, whatever the re-runs', async () => {
    const today = await h.member('bday-today', { birthday: '1990-03-15' });
    const tomorrow = await h.member('bday-tomorrow', { birthday: '1991-03-16' });
    // 21:30 UTC on Mar 14 is 00:30 on Mar 15 in Moscow.
    const first = await run('2026-03-14T21:30:00Z');
    expect(first).toMatchObject({ raised: 1, failed: 0 });
    expect(await birthdays(today)).toBe(1);
    expect(await birthdays(tomorrow)).toBe(0);
    const lot = await h.orm.em.fork().execute(
      `select l.amount, extract(epoch from l.expires_at - l.available_at) / 86400 as days from lot l
       join account a on a.id = l.account_id where a.member_id = ? and l.amount = 1000`, [today]);
    expect(lot.map((l: any) => Number(l.days))).toEqual([3]);
    expect(await run('2026-03-15T10:00:00Z')).toMatchObject({ raised: 0 });
    expect(await birthdays(today)).toBe(1);
    const [key] = await h.orm.em.fork().execute(`select idempotency_key from event where member_id = ? and type = 'birthday'`, [today]);
    expect(key.idempotency_key).toBe(`sys:birthday:${today}:2026`);
  });

  it('an instant before local midnight is still the previous day', async () => {
    const memberId = await h.member('bday-edge', { birthday: '1985-04-02' });
    await run('2026-04-01T20:59:00Z'); // 23:59 Apr 1 in Moscow
    expect(await birthdays(memberId)).toBe(0);
    await run('2026-04-01T21:00:00Z'); // 00:00 Apr 2 in Moscow
    expect(await birthdays(memberId)).toBe(1);
  });

  it('two concurrent runs raise each birthday once', async () => {
    const members = await Promise.all(Array.from({ length: 6 }, (_, i) => h.member(`bday-race-${i}`, { birthday: '1980-05-20' })));
    const [a, b] = await together(() => run('2026-05-20T06:00:00Z'), () => run('2026-05-20T06:00:00Z'));
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('fulfilled');
    const raised = [a, b].reduce((sum, r) => sum + (r as PromiseFulfilledResult<{ raised: number }>).value.raised, 0);
    expect(raised).toBe(6);
    for (const m of members) {
      expect(await birthdays(m)).toBe(1);
      expect(await h.balance(m)).toMatchObject({ available: 1500 }); // welcome 500 + birthday 1000
    }
  });

  it('Feb 29 birthdays are celebrated on Feb 28 in other years, and on Feb 29 in leap years', async () => {
    const leapling = await h.member('bday-leap', { birthday: '2000-02-29' });
    await run('2027-02-28T09:00:00Z');
    expect(await birthdays(leapling)).toBe(1);
    await run('2027-03-01T09:00:00Z');
    expect(await birthdays(leapling)).toBe(1);
    await run('2028-02-28T09:00:00Z');
    expect(await birthdays(leapling)).toBe(1);
    await run('2028-02-29T09:00:00Z');
    expect(await birthdays(leapling)).toBe(2);
  });

  it('birthdayDaysBefore raises it N days ahead, keyed by the birthday\'s year', async () => {
    await h.services.programs.updateProgramSettings(h.admin, { birthdayDaysBefore: 3 });
    try {
      const memberId = await h.member('bday-ahead', { birthday: '1970-01-02' });
      await run('2026-12-30T09:00:00Z');
      const [event] = await h.orm.em.fork().execute(`select idempotency_key, payload from event where member_id = ? and type = 'birthday'`, [memberId]);
      expect(event).toEqual({
        idempotency_key: `sys:birthday:${memberId}:2027`,
        payload: { birthday: '1970-01-02', celebratedOn: '2027-01-02', daysBefore: 3 },
      });
    } finally {
      await h.services.programs.updateProgramSettings(h.admin, { birthdayDaysBefore: 0 });
    }
  });

  it('is a job the runner can register', async () => {
    const job = birthdayJob(h.services);
    expect(job.name).toBe('birthdays');
    expect(await job.run(new Date('2026-07-01T09:00:00Z'), testLogger)).toMatchObject({ failed: 0 });
  });

  it('the job raises every program\'s birthdays, each in its own program, and sums the runs', async () => {
    const { program } = await h.services.programs.createProgram(testContext(h.programId, 'admin'), { name: 'second shop', timeZone: 'UTC' });
    await h.services.rules.createRule(testContext({ programId: program.id, kind: 'admin', id: 'second-admin' }), {
      name: 'Birthday', status: RuleStatus.ACTIVE, definition: { trigger: 'birthday', actions: [{ code: 'fixedPoints', args: { points: 200 } }] },
    });
    const here = await h.member('bday-job-here', { birthday: '1990-08-08' });
    const { member: there } = await h.services.members.upsert(testContext(program.id), { externalId: 'bday-job-there', birthday: '1990-08-08' });
    const run = await birthdayJob(h.services).run(new Date('2026-08-08T12:00:00Z'), testLogger);
    expect(run).toMatchObject({ raised: 2, points: 1_200, failed: 0 });
    expect(run.programs).toBeGreaterThanOrEqual(2);
    const [event] = await h.orm.em.fork().execute(`select program_id from event where member_id = ? and type = 'birthday'`, [there.id]);
    expect(event.program_id).toBe(program.id);
    expect(await birthdays(here)).toBe(1);
  });
});
