import { LedgerAudit } from '../../src/services/ledger';
import { rulesSuite } from '../support/rules-harness';

/**
 * An event's award undone with reverseEntry stops counting against its rules' limits, as a
 * cancelled order's does: a once-only rule rewards the event again, a cap and a total budget get
 * back what the reversal took. A reward the member spent is refused unless `ifSpent` says to
 * forgive (the forgiven points stay counted: no farming) or to book debt (all of it withdrawn).
 */

const suite = rulesSuite(new Date('2026-05-04T09:00:00Z'));
const key = suite.key;

const fixed = (trigger: string, points: number, extra: object = {}) => ({ trigger, actions: [{ code: 'fixedPoints', args: { points } }], ...extra });

async function track(memberId: string, type: string) {
  const result = await suite.h.services.events.trackEvent(suite.h.server, { type, member: { id: memberId }, idempotencyKey: key('event') });
  return { points: result.memberPoints, entryId: result.awards.find((a) => a.memberId === memberId)?.entry.id };
}

const reverse = (entryId: number, idempotencyKey = key('reverse')) => suite.h.services.ledger.reverseEntry(suite.h.admin, { entryId, idempotencyKey });

const withdrawn = (entryId: number) => suite.h.count('select coalesce(sum(withdrawn), 0) from rule_award where entry_id = ?', [entryId]);

const verify = async () =>
  expect((await new LedgerAudit(suite.h.database).verifyLedger({ programId: suite.h.programId })).discrepancies).toEqual([]);

test('a once-only event reward reversed rewards the event again, once', async () => {
  const m = await suite.h.member(key('once'));
  await suite.h.rule('First review', fixed('review_once', 100, { oncePerMember: true }));
  const first = await track(m, 'review_once');
  expect(first.points).toBe(100);
  expect((await track(m, 'review_once')).points).toBe(0);

  await reverse(first.entryId!);
  expect(await withdrawn(first.entryId!)).toBe(100);
  expect((await track(m, 'review_once')).points).toBe(100);
  expect((await track(m, 'review_once')).points).toBe(0);
  expect(await suite.h.balance(m)).toMatchObject({ available: 100 });
  await verify();
});

test('a cap and a total budget get back what the reversal took; a replayed reversal gives nothing more', async () => {
  const [a, b] = [await suite.h.member(key('cap-a')), await suite.h.member(key('cap-b'))];
  const rule = await suite.h.rule('Check-in', fixed('checkin_capped', 60, { caps: { perMemberPerDay: 100, totalBudget: 120 } }));
  const first = await track(a, 'checkin_capped');
  const second = await track(a, 'checkin_capped');
  expect(second.points).toBe(40);
  expect((await track(b, 'checkin_capped')).points).toBe(20); // the budget's last 20
  expect((await track(a, 'checkin_capped')).points).toBe(0);
  const budgetUsed = async () => (await suite.h.services.rules.getRule(suite.h.admin, rule.id))!.budgetUsed;
  expect(await budgetUsed()).toBe(120);

  const idempotencyKey = key('reverse');
  await reverse(first.entryId!, idempotencyKey);
  await reverse(first.entryId!, idempotencyKey);
  expect(await withdrawn(first.entryId!)).toBe(60);
  expect(await budgetUsed()).toBe(60);
  // a's day has 60 free again, and the budget 60.
  expect((await track(a, 'checkin_capped')).points).toBe(60);
  expect((await track(b, 'checkin_capped')).points).toBe(0);

  // The budget a reversal frees is anyone's: b's day has room for it.
  await reverse(second.entryId!);
  expect(await budgetUsed()).toBe(80);
  expect((await track(b, 'checkin_capped')).points).toBe(40);
  expect(await budgetUsed()).toBe(120);
  await verify();
});

test('a reward partly spent is refused by default, and stays counted', async () => {
  const m = await suite.h.member(key('spent'));
  await suite.h.rule('Survey', fixed('survey_once', 100, { oncePerMember: true }));
  const first = await track(m, 'survey_once');
  await suite.h.services.ledger.redeem(suite.h.server, { member: { id: m }, points: 70, idempotencyKey: key('spend') });

  await expect(reverse(first.entryId!)).rejects.toMatchObject({ code: 'INSUFFICIENT_POINTS' });
  expect(await withdrawn(first.entryId!)).toBe(0);
  expect((await track(m, 'survey_once')).points).toBe(0);
  await verify();
});

test('ifSpent FORGIVE takes what is left and withdraws only that; DEBT books the rest and withdraws all', async () => {
  const [m, n] = [await suite.h.member(key('forgive')), await suite.h.member(key('debt'))];
  await suite.h.rule('Quiz', fixed('quiz_once', 100, { oncePerMember: true }));
  const spend = (memberId: string) => suite.h.services.ledger.redeem(suite.h.server, { member: { id: memberId }, points: 70, idempotencyKey: key('spend') });
  const reverseSpent = (entryId: number, ifSpent: 'forgive' | 'debt') =>
    suite.h.services.ledger.reverseEntry(suite.h.admin, { entryId, ifSpent, idempotencyKey: key('reverse') });

  const forgiven = await track(m, 'quiz_once');
  await spend(m);
  const taken = await reverseSpent(forgiven.entryId!, 'forgive');
  expect(taken.entry.amount).toBe(-30);
  expect(taken.account).toMatchObject({ available: 0, debt: 0 });
  expect(await withdrawn(forgiven.entryId!)).toBe(30);
  expect((await track(m, 'quiz_once')).points).toBe(0); // 70 forgiven stay given: no farming

  const owed = await track(n, 'quiz_once');
  await spend(n);
  const booked = await reverseSpent(owed.entryId!, 'debt');
  expect(booked.entry.amount).toBe(-100);
  expect(booked.account).toMatchObject({ available: 0, debt: 70 });
  expect(await withdrawn(owed.entryId!)).toBe(100);
  // The milestone pays again, and repays the debt first.
  expect((await track(n, 'quiz_once')).points).toBe(100);
  expect(await suite.h.balance(n)).toMatchObject({ available: 30 });
  await verify();
});

test('reversing an entry no rule wrote, or a redemption, withdraws nothing and still works', async () => {
  const m = await suite.h.member(key('plain'));
  const accrued = await suite.h.services.ledger.accrue(suite.h.server, { member: { id: m }, points: 50, idempotencyKey: key('accrue') });
  const spent = await suite.h.services.ledger.redeem(suite.h.server, { member: { id: m }, points: 20, idempotencyKey: key('spend') });
  await reverse(spent.entry.id);
  const idempotencyKey = key('reverse');
  const reversed = await reverse(accrued.entry.id, idempotencyKey);
  expect(await suite.h.balance(m)).toMatchObject({ available: 0 });
  // Refusing is what a reversal did before ifSpent existed: saying so replays the same key.
  expect(await suite.h.services.ledger.reverseEntry(suite.h.admin, { entryId: accrued.entry.id, ifSpent: 'refuse', idempotencyKey })).toEqual(reversed);
  await verify();
});
