import { compare, operandIssues, OPERATORS, pathIssues, readPath } from '../compare';
import { EarnCondition } from '../earn-condition';

export const eventField = new EarnCondition({
  code: 'eventField',
  description: 'Compares a field of the event payload with a value (numbers as numbers)',
  args: {
    path: { type: 'string', required: true, description: "Dotted path in the payload, e.g. 'utm.source'" },
    operator: { type: 'enum', required: true, options: OPERATORS, description: 'How to compare' },
    value: { type: 'json', required: true, description: 'The operand; a list for in / notIn' },
  },
  validate: ({ path, operator, value }) => [...pathIssues(path), ...operandIssues(operator, value)],
  check: ({ event }, { path, operator, value }) =>
    compare(`payload.${path}`, readPath(event.payload, path), operator, value),
});
