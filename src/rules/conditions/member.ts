import { compare, operandIssues, OPERATORS, pathIssues, readPath } from '../compare';
import { EarnCondition } from '../earn-condition';
import { calendarDaysBetween } from '../time-zone';
import { inRange, rangeIssues } from './range';

export const memberTags = new EarnCondition({
  code: 'memberTags',
  description: 'The member has any (or all) of the tags',
  args: {
    tags: { type: 'string[]', required: true, description: 'Tags to look for' },
    match: {
      type: 'enum',
      options: ['any', 'all'],
      default: 'any',
      description: 'Whether one tag suffices or all are needed',
    },
  },
  check: ({ member }, { tags, match }) => {
    const missing = tags.filter((tag) => !member.tags.includes(tag));
    if (match === 'all') return missing.length === 0 || `missing tag(s) ${missing.join(', ')}`;
    return missing.length < tags.length || `has none of ${tags.join(', ')}`;
  },
});

export const memberAttribute = new EarnCondition({
  code: 'memberAttribute',
  description: "Compares one of the member's attributes with a value (numbers as numbers)",
  args: {
    path: { type: 'string', required: true, description: "Dotted path in the attributes, e.g. 'city'" },
    operator: { type: 'enum', required: true, options: OPERATORS, description: 'How to compare' },
    value: { type: 'json', required: true, description: 'The operand; a list for in / notIn' },
  },
  validate: ({ path, operator, value }) => [...pathIssues(path), ...operandIssues(operator, value)],
  check: ({ member }, { path, operator, value }) =>
    compare(`attributes.${path}`, readPath(member.attributes ?? {}, path), operator, value),
});

export const daysSinceRegistration = new EarnCondition({
  code: 'daysSinceRegistration',
  description: 'Calendar days (program time zone) from registration to the event lie between min and max',
  args: {
    min: { type: 'int', min: 0, description: 'Fewest days; 0 = the registration day' },
    max: { type: 'int', min: 0, description: 'Most days' },
  },
  validate: ({ min, max }) => rangeIssues(min, max),
  check: ({ member, event, timeZone }, { min, max }) =>
    inRange(calendarDaysBetween(member.registeredAt, event.occurredAt, timeZone), min, max),
});

export const memberTier = new EarnCondition({
  code: 'memberTier',
  description: "The member's tier is one of the listed tier codes",
  args: { tiers: { type: 'string[]', required: true, description: "Tier codes, e.g. 'gold'" } },
  check: ({ member }, { tiers }) => {
    const tier = member.tierCode ?? null;
    return (tier !== null && tiers.includes(tier)) || `tier '${tier}' is not in ${tiers.join(', ')}`;
  },
});

export const cumulativeSpendCrosses = new EarnCondition({
  code: 'cumulativeSpendCrosses',
  description:
    "A paid order brings the member's cumulative paid amount to the threshold or past it (minor units); pair with oncePerMember for an achievement",
  args: { threshold: { type: 'int', required: true, min: 1, description: 'Cumulative spend, e.g. 2000000 for 20 000.00' } },
  readsOrder: true,
  check: ({ member }, { threshold }) => {
    const spend = member.cumulativeSpend;
    if (!spend) return 'the event is not a paid order';
    if (spend.beforeMinor >= threshold) return `already ${spend.beforeMinor} ≥ ${threshold} before this order`;
    return spend.afterMinor >= threshold || `${spend.afterMinor} < threshold ${threshold}`;
  },
});
