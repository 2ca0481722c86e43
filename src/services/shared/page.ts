import { badInput } from '../../errors';
import { isUuid } from './input';

/** One page of a list read with keyset pagination: pass `endCursor` as `after` to read on. */
export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** How many rows a page holds when the caller names no number, and at most. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** `first` checked: 1 to {@link MAX_PAGE_SIZE}, {@link DEFAULT_PAGE_SIZE} when absent. */
export function pageSize(first: number | null | undefined): number {
  const n = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw badInput(`first must be from 1 to ${MAX_PAGE_SIZE}`, { field: 'first' });
  }
  return n;
}

/** A cursor: opaque to clients; inside, the list's name and where in the list it points. */
export function cursorOf(list: string, position: string): string {
  return Buffer.from(`${list}:${position}`).toString('base64url');
}

/**
 * Where a cursor of `list` points; null without one; BAD_USER_INPUT for a cursor of another
 * list, or one whose position `valid` refuses. `named` is the list as the message names it.
 */
export function readCursor(list: string, cursor: string | null | undefined, valid: (position: string) => boolean, named = list): string | null {
  if (cursor == null) return null;
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const position = text.startsWith(`${list}:`) ? text.slice(list.length + 1) : null;
  if (position === null || !valid(position)) throw badInput(`after is not a cursor of ${named}`, { field: 'after' });
  return position;
}

/**
 * The cursor of a row of a list ordered by (createdAt, id) with uuid ids: the row's id. The
 * store compares with the row the cursor names, so no timestamp is rounded on its way through
 * the client.
 */
export const idCursor = (list: string, id: string): string => cursorOf(list, id);

/** The row id inside a cursor of `list`; null without one; BAD_USER_INPUT for anything else. */
export function readIdCursor(list: string, cursor: string | null | undefined): string | null {
  return readCursor(list, cursor, isUuid)?.toLowerCase() ?? null;
}

/**
 * A page from rows read with one more than the page holds (`limit + 1`): the extra row only
 * says there is a next page.
 */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (row: T) => string): Page<T> {
  const nodes = rows.slice(0, limit);
  return { nodes, hasNextPage: rows.length > limit, endCursor: nodes.length ? cursorOf(nodes[nodes.length - 1]) : null };
}
