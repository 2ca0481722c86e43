import { randomUUID } from 'node:crypto';
import type { Sql } from '../../src/db/database';

export interface SeededTree {
  rootId: string;
  /** Members per level below the root: levels[0] is level 1. */
  levels: number[];
  ids: string[];
}

/**
 * A referral tree of `size` members under one new root, written in bulk (members, referral
 * edges and their closure) the way attribution would leave it: member i is referred by a
 * pseudo-random earlier member whose level is below `maxDepth`. Deterministic for a seed.
 */
export async function seedReferralTree(db: Sql, programId: string, size: number, maxDepth = 10, seed = 11): Promise<SeededTree> {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const ids = Array.from({ length: size + 1 }, () => randomUUID());
  const parent = [-1];
  const level = [0];
  for (let i = 1; i <= size; i++) {
    // Wide and deep: most members hang under one of the latest 50, so every level fills up.
    let p = Math.max(0, i - 1 - Math.floor(rand() * 50));
    while (level[p] >= maxDepth) p = parent[p];
    parent.push(p);
    level.push(level[p] + 1);
  }
  const now = new Date();
  for (let from = 0; from < ids.length; from += 5000) {
    const part = ids.slice(from, from + 5000);
    await db.execute(
      `insert into member (id, program_id, external_id, name, registered_at, updated_at)
       select id, ?, 'tree-' || id, 'Member ' || n, ?, ? from unnest(?::uuid[]) with ordinality as t(id, n)`,
      [programId, now, now, `{${part.join(',')}}`],
    );
  }
  const edges = ids.slice(1).map((id, k) => [id, ids[parent[k + 1]]]);
  for (let from = 0; from < edges.length; from += 5000) {
    const part = edges.slice(from, from + 5000);
    await db.execute(
      `insert into referral (member_id, program_id, referrer_id, via, created_at)
       select m, ?, r, 'registration', ? from unnest(?::uuid[], ?::uuid[]) as t(m, r)`,
      [programId, now, `{${part.map((e) => e[0]).join(',')}}`, `{${part.map((e) => e[1]).join(',')}}`],
    );
    await db.execute(`update member m set referrer_id = r.referrer_id from referral r where r.member_id = m.id and m.id = any(?::uuid[])`, [
      `{${part.map((e) => e[0]).join(',')}}`,
    ]);
  }
  const paths: Array<[string, number, string]> = [];
  for (let i = 1; i < ids.length; i++) for (let a = parent[i], d = 1; a >= 0; a = parent[a], d++) paths.push([ids[i], d, ids[a]]);
  for (let from = 0; from < paths.length; from += 20000) {
    const part = paths.slice(from, from + 20000);
    await db.execute(
      `insert into referral_path (member_id, depth, ancestor_id, program_id)
       select m, d, a, ? from unnest(?::uuid[], ?::smallint[], ?::uuid[]) as t(m, d, a)`,
      [programId, `{${part.map((p) => p[0]).join(',')}}`, `{${part.map((p) => p[1]).join(',')}}`, `{${part.map((p) => p[2]).join(',')}}`],
    );
  }
  const levels: number[] = [];
  for (let i = 1; i < level.length; i++) levels[level[i] - 1] = (levels[level[i] - 1] ?? 0) + 1;
  return { rootId: ids[0], levels, ids };
}
