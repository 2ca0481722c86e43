import { LedgerAudit } from '../../src/services/ledger';
import { rulesSuite } from '../support/rules-harness';

/**
 * An event's award undone with reverseEntry stops counting against its rules' limits, as a
 * cancelled order's does: a once-only rule rewards the event again, a cap and a total budget get
 * back what the reversal took. A reward the member spent cannot be reversed this way, so it
 * stays counted.
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

test('a reward partly spent cannot be reversed, and stays counted', async () => {
  const m = await suite.h.member(key('spent'));
  await suite.h.rule('Survey', fixed('survey_once', 100, { oncePerMember: true }));
  const first = await track(m, 'survey_once');
  await suite.h.services.ledger.redeem(suite.h.server, { member: { id: m }, points: 70, idempotencyKey: key('spend') });

  await expect(reverse(first.entryId!)).rejects.toMatchObject({ code: 'INSUFFICIENT_POINTS' });
  expect(await withdrawn(first.entryId!)).toBe(0);
  expect((await track(m, 'survey_once')).points).toBe(0);
  await verify();
});

test('reversing an entry no rule wrote, or a redemption, withdraws nothing and still works', async () => {
  const m = await suite.h.member(key('plain'));
  const accrued = await suite.h.services.ledger.accrue(suite.h.server, { member: { id: m }, points: 50, idempotencyKey: key('accrue') });
  const spent = await suite.h.services.ledger.redeem(suite.h.server, { member: { id: m }, points: 20, idempotencyKey: key('spend') });
  await reverse(spent.entry.id);
  await reverse(accrued.entry.id);
  expect(await suite.h.balance(m)).toMatchObject({ available: 0 });
  await verify();
});
