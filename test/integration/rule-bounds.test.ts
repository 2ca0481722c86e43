import { RuleStatus } from '../../src/entities/rule';
import { MAX_CONDITION_DEPTH, MAX_CONDITION_NODES } from '../../src/rules';
import type { RuleDefinitionInput } from '../../src/services/earning';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * A condition tree is bounded when a rule is saved, whoever saves it (GraphQL, a seed script,
 * an import through the service): the GraphQL edge bounds JSON depth, but the rule service is
 * the one place every rule passes. An over-deep tree stored some other way is reported
 * `invalid` by the engine instead of failing every event of its trigger.
 */
let h: RulesHarness;
let seq = 0;
const key = () => `bounds-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness();
});
afterAll(() => h.close());

const always = { condition: 'dayOfWeek', args: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] } };
const notChain = (depth: number): unknown => {
  let node: unknown = always;
  for (let i = 0; i < depth; i++) node = { not: node };
  return node;
};
const review = (condition: unknown): RuleDefinitionInput => ({
  trigger: 'product_review',
  condition,
  actions: [{ code: 'fixedPoints', args: { points: 10 } }],
});

describe('condition trees are bounded when a rule is saved', () => {
  it('refuses an active rule 3 000 `not`s deep, saves nothing, and events of its trigger still work', async () => {
    const rulesBefore = await h.count('select count(*) from rule');
    await expect(h.services.rules.createRule(h.admin, { name: 'Deep', status: RuleStatus.ACTIVE, definition: review(notChain(3000)) }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(`deeper than ${MAX_CONDITION_DEPTH}`) });
    expect(await h.count('select count(*) from rule')).toBe(rulesBefore);

    const fine = await h.rule('Fine', review(notChain(2)));
    const memberId = await h.member('bounds-1');
    const tracked = await h.services.events.trackEvent(h.server, { type: 'product_review', member: { id: memberId }, payload: { sku: 'A' }, idempotencyKey: key() });
    expect(tracked.awards).toEqual([expect.objectContaining({ ruleId: fine.id, points: 10 })]);
  });

  it('refuses the same on update, keeping the version it had', async () => {
    const rule = await h.services.rules.createRule(h.admin, { name: 'Updated', definition: review(always) });
    await expect(h.services.rules.updateRule(h.admin, rule.id, { definition: review(notChain(3000)) }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const [versions] = await h.services.rules.versionsOf(h.programId, [rule.id]);
    expect(versions.map((v) => v.version)).toEqual([1]);
  });

  it('accepts a tree exactly at the depth bound and refuses one level more', async () => {
    // notChain(n) has n + 1 nodes on its one path.
    await expect(h.services.rules.createRule(h.admin, { name: 'At bound', definition: review(notChain(MAX_CONDITION_DEPTH - 1)) })).resolves.toBeDefined();
    await expect(h.services.rules.createRule(h.admin, { name: 'Past bound', definition: review(notChain(MAX_CONDITION_DEPTH)) }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('refuses a tree with too many nodes, however shallow', async () => {
    const wide = { any: Array.from({ length: MAX_CONDITION_NODES }, () => always) };
    await expect(h.services.rules.createRule(h.admin, { name: 'Wide', definition: review(wide) }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(`more than ${MAX_CONDITION_NODES}`) });
  });

  it('an over-deep rule stored around the service is reported invalid, and the other rules still award', async () => {
    const memberId = await h.member('bounds-2');
    const good = await h.rule('Good', { trigger: 'survey_answer', actions: [{ code: 'fixedPoints', args: { points: 7 } }] });
    const stored = await h.rule('Stored around', { trigger: 'survey_answer', actions: [{ code: 'fixedPoints', args: { points: 1 } }] });
    // As an import writing the tables directly would (versions are immutable: a new one).
    const definition = { trigger: 'survey_answer', condition: notChain(3000), actions: [{ code: 'fixedPoints', args: { points: 1 } }] };
    const em = h.orm.em.fork();
    await em.execute(`insert into rule_version (id, rule_id, version, definition, created_at) values (gen_random_uuid(), ?, 2, ?::json, now())`,
      [stored.id, JSON.stringify(definition)]);
    await em.execute(`update rule set current_version_id = (select id from rule_version where rule_id = ? and version = 2) where id = ?`, [stored.id, stored.id]);
    h.clock.advance(10_000);
    const simulated = await h.services.events.simulateEvent(h.admin, { type: 'survey_answer', member: { id: memberId }, payload: { score: 5 } });
    expect(simulated.rules.find((r) => r.ruleId === stored.id)?.reason).toMatchObject({ code: 'invalid', message: expect.stringContaining('deeper than') });
    const tracked = await h.services.events.trackEvent(h.server, { type: 'survey_answer', member: { id: memberId }, payload: { score: 5 }, idempotencyKey: key() });
    expect(tracked.awards).toEqual([expect.objectContaining({ ruleId: good.id, points: 7 })]);
  });
});
