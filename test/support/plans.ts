import type { PoolClient } from 'pg';

/**
 * Reading the plans PostgreSQL keeps for prepared statements. After five executions it may plan
 * a statement without its parameters (a generic plan) and keep that plan for as long as the
 * connection lives; these helpers EXPLAIN that plan so a test can hold a statement to a shape
 * that stays good whatever its parameters and whatever the tables grow to.
 */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'CTE Name'?: string;
  Alias?: string;
  Plans?: PlanNode[];
}

export function* planNodes(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* planNodes(child);
}

/** The CTE a node reads, looking through the nodes that only pass rows on (sort, hash, materialize). */
function cteBelow(node: PlanNode): string | null {
  if (node['Node Type'] === 'CTE Scan') return node['CTE Name']!;
  if (['Sort', 'Hash', 'Materialize', 'Memoize', 'Incremental Sort'].includes(node['Node Type']) && node.Plans?.length === 1) {
    return cteBelow(node.Plans[0]!);
  }
  return null;
}

/** Joins of one CTE result with another, and sequential scans of the tables named (all when none is), in a plan. */
export function weakSpots(plan: PlanNode, tables?: string[]): string[] {
  const found: string[] = [];
  for (const node of planNodes(plan)) {
    if (['Nested Loop', 'Hash Join', 'Merge Join'].includes(node['Node Type'])) {
      const [outer, inner] = (node.Plans ?? []).map(cteBelow);
      if (outer && inner) found.push(`${node['Node Type']} of CTE ${outer} with CTE ${inner}`);
    }
    if (node['Node Type'] === 'Seq Scan' && (!tables || tables.includes(node['Relation Name']!))) {
      found.push(`Seq Scan on ${node['Relation Name']}`);
    }
  }
  return found;
}

/**
 * EXPLAIN of a statement's plan as a prepared statement after ten executions with `warmUp`
 * (rolled back), generic plans forced. Parameters are SQL literals.
 */
export async function genericPlan(client: PoolClient, name: string, text: string, params: string[], warmUp: string[]): Promise<PlanNode> {
  await client.query(`prepare ${name} as ${text}`);
  try {
    await client.query('begin');
    for (let i = 0; i < 10; i++) await client.query(`execute ${name}(${warmUp.join(', ')})`);
    await client.query('rollback');
    await client.query('set plan_cache_mode = force_generic_plan');
    const { rows } = await client.query(`explain (format json) execute ${name}(${params.join(', ')})`);
    return rows[0]['QUERY PLAN'][0].Plan as PlanNode;
  } finally {
    await client.query('reset plan_cache_mode');
    await client.query(`deallocate ${name}`);
  }
}

/** A value as an SQL literal for `execute name(…)`. */
export const sqlLiteral = (value: string | number | Date) =>
  value instanceof Date ? `'${value.toISOString()}'::timestamptz` : typeof value === 'number' ? String(value) : `'${value}'`;
