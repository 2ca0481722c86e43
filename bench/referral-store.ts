/**
 * `node -r @swc-node/register bench/referral-store.ts`: how to store the referral tree — a
 * closure table (ancestor, member, depth) or an `ltree` path per member — measured on the same
 * random trees of 5 000 and 100 000 members (depth at most 10), on the embedded PostgreSQL (or
 * on STORE_DATABASE_URL, e.g. the machine's PostgreSQL 15). Prints one table; writes nothing else.
 *
 *   attach leaf   a new member under a random one (what registration with a referrer writes)
 *   upline        the member's referrers, nearest first (what earning for a referee reads)
 *   referrer@3    the referrer 3 levels up (what rewardReferrer level 3 reads)
 *   stats(root)   members per level of the whole network under the tree's root
 *   stats(mid)    the same for a member at level 3
 *   size          the table and its indexes
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createDatabase, startBenchPostgres } from './pg';

const SIZES = (process.env.STORE_SIZES ?? '5000,100000').split(',').map(Number);
const REPEAT = Number(process.env.STORE_REPEAT ?? 2000);
const MAX_DEPTH = 10;

interface Tree {
  ids: string[];
  parent: number[];
  depth: number[];
}

/** Member i refers to a random earlier member whose depth is below the maximum; member 0 is the root. */
function randomTree(n: number, seed = 7): Tree {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ids = Array.from({ length: n }, () => randomUUID());
  const parent = [-1];
  const depth = [0];
  for (let i = 1; i < n; i++) {
    let p = Math.floor(rand() * i);
    while (depth[p] >= MAX_DEPTH) p = parent[p];
    parent.push(p);
    depth.push(depth[p] + 1);
  }
  return { ids, parent, depth };
}

const label = (id: string) => id.replace(/-/g, '');

async function time(c: Client, repeat: number, sql: string, params: () => unknown[]): Promise<number> {
  const name = `s${Math.abs(hash(sql))}`;
  for (let i = 0; i < 50; i++) await c.query({ name, text: sql, values: params() });
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) await c.query({ name, text: sql, values: params() });
  return Number(process.hrtime.bigint() - start) / 1e3 / repeat; // µs per statement
}

function hash(s: string): number {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return h;
}

async function load(c: Client, tree: Tree): Promise<void> {
  await c.query(`drop table if exists rs_edge, rs_closure, rs_node`);
  await c.query(`create extension if not exists ltree`);
  await c.query(`create table rs_edge (member_id uuid primary key, referrer_id uuid)`);
  await c.query(`create table rs_closure (member_id uuid not null, ancestor_id uuid not null, depth smallint not null, primary key (member_id, depth))`);
  await c.query(`create table rs_node (member_id uuid primary key, referrer_id uuid, path ltree not null)`);
  const paths: string[] = [];
  const rows: Array<[string, string, number]> = [];
  tree.ids.forEach((id, i) => {
    const p = tree.parent[i];
    paths.push(p < 0 ? label(id) : `${paths[p]}.${label(id)}`);
    for (let a = p, d = 1; a >= 0; a = tree.parent[a], d++) rows.push([id, tree.ids[a], d]);
  });
  for (let from = 0; from < tree.ids.length; from += 5000) {
    const ids = tree.ids.slice(from, from + 5000);
    const refs = ids.map((_, k) => (tree.parent[from + k] < 0 ? null : tree.ids[tree.parent[from + k]]));
    await c.query(`insert into rs_edge select * from unnest($1::uuid[], $2::uuid[])`, [ids, refs]);
    await c.query(`insert into rs_node select * from unnest($1::uuid[], $2::uuid[], $3::ltree[])`, [ids, refs, paths.slice(from, from + 5000)]);
  }
  for (let from = 0; from < rows.length; from += 20000) {
    const part = rows.slice(from, from + 20000);
    await c.query(`insert into rs_closure select * from unnest($1::uuid[], $2::uuid[], $3::smallint[])`, [
      part.map((r) => r[0]), part.map((r) => r[1]), part.map((r) => r[2]),
    ]);
  }
  await c.query(`create index on rs_edge (referrer_id)`);
  await c.query(`create index on rs_closure (ancestor_id, depth, member_id)`);
  await c.query(`create index on rs_node using gist (path)`);
  await c.query(`create index on rs_node (referrer_id)`);
  await c.query(`vacuum analyze rs_edge, rs_closure, rs_node`);
}

async function measure(c: Client, n: number) {
  const tree = randomTree(n);
  await load(c, tree);
  const pick = () => tree.ids[Math.floor(Math.random() * n)];
  const deep = tree.ids.filter((_, i) => tree.depth[i] >= 3);
  const pickDeep = () => deep[Math.floor(Math.random() * deep.length)];
  const mids = tree.ids.filter((_, i) => tree.depth[i] === 3);
  const pickMid = () => mids[Math.floor(Math.random() * mids.length)];
  const root = tree.ids[0];
  const rootPath = label(root);
  const shallow = tree.ids.filter((_, i) => tree.depth[i] < MAX_DEPTH);
  const pickShallow = () => shallow[Math.floor(Math.random() * shallow.length)];
  const size = async (t: string) => Number((await c.query(`select pg_total_relation_size($1) as b`, [t])).rows[0].b) / 1024 / 1024;

  const attachClosure = `with e as (insert into rs_edge values ($1, $2))
    insert into rs_closure select $1, $2, 1 union all select $1, ancestor_id, depth + 1 from rs_closure where member_id = $2`;
  const attachLtree = `insert into rs_node select $1, $2, path || $3::text from rs_node where member_id = $2`;
  const row = {
    closure: {
      attach: await time(c, REPEAT, attachClosure, () => [randomUUID(), pickShallow()]),
      upline: await time(c, REPEAT, `select ancestor_id, depth from rs_closure where member_id = $1 order by depth`, () => [pick()]),
      referrer3: await time(c, REPEAT, `select ancestor_id from rs_closure where member_id = $1 and depth = 3`, () => [pickDeep()]),
      statsRoot: await time(c, Math.max(20, REPEAT / 100), `select depth, count(*) from rs_closure where ancestor_id = $1 group by depth`, () => [root]),
      statsMid: await time(c, REPEAT, `select depth, count(*) from rs_closure where ancestor_id = $1 group by depth`, () => [pickMid()]),
      mb: (await size('rs_closure')) + (await size('rs_edge')),
    },
    ltree: {
      attach: await time(c, REPEAT, attachLtree, () => {
        const id = randomUUID();
        return [id, pickShallow(), label(id)];
      }),
      upline: await time(c, REPEAT, `select subltree(path, 0, nlevel(path) - 1) as up from rs_node where member_id = $1`, () => [pick()]),
      referrer3: await time(c, REPEAT, `select subpath(path, nlevel(path) - 4, 1) as r from rs_node where member_id = $1 and nlevel(path) > 3`, () => [pickDeep()]),
      statsRoot: await time(c, Math.max(20, REPEAT / 100), `select nlevel(path) - 1 as depth, count(*) from rs_node where path <@ $1::ltree and path <> $1::ltree group by 1`, () => [rootPath]),
      statsMid: await time(
        c,
        REPEAT,
        `select nlevel(n.path) - nlevel(m.path) as depth, count(*) from rs_node m join rs_node n on n.path <@ m.path and n.member_id <> m.member_id where m.member_id = $1 group by 1`,
        () => [pickMid()],
      ),
      mb: await size('rs_node'),
    },
  };
  return row;
}

async function main() {
  let url: string;
  let stop: () => Promise<void> = async () => undefined;
  const server = process.env.STORE_DATABASE_URL;
  if (server) {
    // A scratch database of its own on that server, dropped at the end.
    const name = `patron_store_bench_${process.pid}`;
    url = await createDatabase(server, name);
    stop = async () => {
      const admin = new Client({ connectionString: server });
      await admin.connect();
      await admin.query(`drop database if exists ${name}`);
      await admin.end();
    };
  } else {
    const pg = await startBenchPostgres(mkdtempSync(path.join(os.tmpdir(), 'patron-store-')), Number(process.env.STORE_PG_PORT ?? 54359));
    stop = pg.stop;
    url = await createDatabase(pg.url, 'store');
  }
  const c = new Client({ connectionString: url });
  await c.connect();
  const version = (await c.query('show server_version')).rows[0].server_version;
  console.log(`PostgreSQL ${version}; µs per statement (one client, prepared), sizes in MB`);
  console.log('members  store    attach  upline  referrer@3  stats(root)  stats(mid)  size');
  try {
    for (const n of SIZES) {
      const r = await measure(c, n);
      for (const [store, m] of Object.entries(r)) {
        console.log(
          `${String(n).padStart(7)}  ${store.padEnd(7)} ${m.attach.toFixed(0).padStart(6)}  ${m.upline.toFixed(0).padStart(6)}  ${m.referrer3
            .toFixed(0)
            .padStart(10)}  ${m.statsRoot.toFixed(0).padStart(11)}  ${m.statsMid.toFixed(0).padStart(10)}  ${m.mb.toFixed(1).padStart(5)}`,
        );
      }
    }
    await c.query(`drop table if exists rs_edge, rs_closure, rs_node`);
  } finally {
    await c.end();
    await stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
