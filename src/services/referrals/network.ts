import type { RequestContext } from '../shared';
import type { Database } from '../../db/database';
import { badInput, notFound } from '../../errors';
import { isUuid } from '../shared';
import type { ReferralRefusal } from './logic';
import * as store from './referral-store';
import type {
  PageRecord, RefereeRecord, ReferralAttemptRecord, ReferralNodeRecord, ReferralStatsRecord, ReferralTreeNode, ReferralTreeRecord,
} from './types';

/** The deepest tree a request may read (and the deepest a program may allow). */
export const MAX_TREE_DEPTH = 10;
const MAX_PAGE = 100;
const DEFAULT_PAGE = 20;

/**
 * Reading the network (R4, R6): figures per level, referees page by page, and the tree level by
 * level — one statement per level for any number of members in it.
 */
export class ReferralNetwork {
  constructor(private readonly db: Database) {}

  async stats(ctx: RequestContext, memberId: string): Promise<ReferralStatsRecord> {
    await this.root(ctx, memberId);
    const levels = (await store.levelStats(this.db, memberId)).map((r) => ({
      level: r.depth,
      members: r.members,
      paidOrders: r.paid_orders,
      pointsEarned: Number(r.points),
    }));
    const sum = (f: (l: (typeof levels)[number]) => number) => levels.reduce((s, l) => s + f(l), 0);
    return {
      directReferrals: levels.find((l) => l.level === 1)?.members ?? 0,
      networkSize: sum((l) => l.members),
      paidOrders: sum((l) => l.paidOrders),
      pointsEarned: sum((l) => l.pointsEarned),
      levels,
    };
  }

  /** The member's referees at `level` (1 = direct), in the order they joined. */
  async referees(
    ctx: RequestContext,
    memberId: string,
    args: { level?: number | null; first?: number | null; after?: string | null },
  ): Promise<PageRecord<RefereeRecord>> {
    const { programId } = ctx;
    const level = args.level ?? 1;
    if (!Number.isInteger(level) || level < 1 || level > MAX_TREE_DEPTH) {
      throw badInput(`level must be from 1 to ${MAX_TREE_DEPTH}`, { field: 'level' });
    }
    const first = args.first ?? DEFAULT_PAGE;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be from 1 to ${MAX_PAGE}`, { field: 'first' });
    const rows = await store.referees(this.db, programId, memberId, level, decodeCursor(args.after), first + 1);
    const nodes = rows.slice(0, first).map((r) => ({ ...toNode(r, r.depth), paidOrders: r.paid_orders, pointsEarned: Number(r.points) }));
    const last = rows.length > first ? nodes[nodes.length - 1] : null;
    return { nodes, hasNextPage: last !== null, endCursor: last ? encodeCursor(last.referredAt!, last.memberId) : null };
  }

  /** The tree's root (level 0): one statement. NOT_FOUND outside the program. */
  async root(ctx: RequestContext, memberId: string): Promise<ReferralNodeRecord> {
    const { programId } = ctx;
    const row = isUuid(memberId) ? await store.member(this.db, programId, memberId) : null;
    if (!row) throw notFound('Member', { memberId });
    return { memberId: row.id, externalId: row.external_id, name: row.name, level: 0, referrerId: null, via: null, referredAt: null };
  }

  /** The direct referees of each member, for a DataLoader: one statement per batch. */
  async childrenOf(programId: string, memberIds: readonly string[]): Promise<ReferralNodeRecord[][]> {
    const rows = await store.childrenOf(this.db, programId, memberIds.filter(isUuid));
    const byReferrer = new Map<string, ReferralNodeRecord[]>();
    for (const row of rows) {
      const list = byReferrer.get(row.referrer_id) ?? [];
      list.push(toNode(row, 0));
      byReferrer.set(row.referrer_id, list);
    }
    return memberIds.map((id) => byReferrer.get(id) ?? []);
  }

  async attempts(
    ctx: RequestContext,
    args: { memberId?: string | null; refusedOnly?: boolean | null; first?: number | null; after?: string | null },
  ): Promise<PageRecord<ReferralAttemptRecord>> {
    const first = args.first ?? DEFAULT_PAGE;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be from 1 to ${MAX_PAGE}`, { field: 'first' });
    if (args.memberId != null && !isUuid(args.memberId)) return { nodes: [], hasNextPage: false, endCursor: null };
    const cursor = decodeCursor(args.after);
    const rows = await store.attempts(
      this.db,
      ctx.programId,
      { memberId: args.memberId ?? null, refusedOnly: args.refusedOnly ?? false },
      cursor && { createdAt: cursor.createdAt, id: cursor.memberId },
      first + 1,
    );
    const nodes = rows.slice(0, first).map((r) => ({
      id: r.id,
      memberId: r.member_id,
      referrerId: r.referrer_id,
      via: r.via,
      detail: r.detail,
      accepted: r.accepted,
      reason: r.reason as ReferralRefusal | null,
      createdAt: new Date(r.created_at),
    }));
    const last = rows.length > first ? nodes[nodes.length - 1] : null;
    return { nodes, hasNextPage: last !== null, endCursor: last ? encodeCursor(last.createdAt, last.id) : null };
  }
}

/**
 * The tree under `root` to `depth` levels, asking `children` for each level's members at once:
 * with a DataLoader behind it, one statement per level however wide the level is.
 */
export async function buildTree(
  root: ReferralNodeRecord,
  depth: number,
  children: (memberId: string) => Promise<ReferralNodeRecord[]>,
): Promise<ReferralTreeRecord> {
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_TREE_DEPTH) {
    throw badInput(`depth must be from 1 to ${MAX_TREE_DEPTH}`, { field: 'depth' });
  }
  const top: ReferralTreeNode = { ...root, children: [] };
  const nodes: ReferralTreeNode[] = [];
  let level: ReferralTreeNode[] = [top];
  for (let d = 1; d <= depth && level.length > 0; d++) {
    const lists = await Promise.all(level.map((n) => children(n.memberId)));
    const next: ReferralTreeNode[] = [];
    level.forEach((parent, i) => {
      parent.children = lists[i].map((c) => ({ ...c, level: d, children: [] }));
      next.push(...parent.children);
    });
    nodes.push(...next);
    level = next;
  }
  return { root: top, depth, size: nodes.length, nodes };
}

function toNode(r: store.NodeRow, level: number): ReferralNodeRecord {
  return {
    memberId: r.member_id,
    externalId: r.external_id,
    name: r.name,
    level,
    referrerId: r.referrer_id,
    via: r.via,
    referredAt: new Date(r.created_at),
  };
}

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`r:${at.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string | null | undefined): { createdAt: Date; memberId: string } | null {
  if (!cursor) return null;
  const m = /^r:([0-9T:.\-Z]{20,30})\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const at = m ? new Date(m[1]) : null;
  if (!m || !at || Number.isNaN(at.getTime()) || !isUuid(m[2])) throw badInput('after is not a cursor from this list', { field: 'after' });
  return { createdAt: at, memberId: m[2] };
}
