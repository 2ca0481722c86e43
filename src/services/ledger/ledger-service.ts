import type { Database, Sql, UnitOfWork } from '../../db/database';
import { randomUUID } from 'node:crypto';
import { AuthorizationStatus } from '../../entities/authorization';
import { CauseType, EntryKind } from '../../entities/ledger-entry';
import { ErrorCode, PatronError, apiEntryId, apiEnum, badInput, notFound } from '../../errors';
import { AccountBook } from './account-book';
import { isCredit, toEntryRecord, type Cause, type EntryRecord, type Shortfall } from './entries';
import { raise, type Actor, type DomainHooks, type MemberRef, type RequestContext } from '../shared';
import { Clock, DAY_MS } from '../shared';
import { checkClientKey, idempotentTransaction } from '../shared';
import * as authStore from './authorization-store';
import { openAccount } from './book-store';
import { closeAuthorization, recordAuthorization, toAuthorization, type AuthorizationRecord } from './authorizations';
import { ACCRUAL_REVERSED, LedgerEvent } from './ledger-events';
import { writeInOneStatement, type OneStatementWrite } from './write-functions';
import { checkLotDates, checkReason, isUuid } from '../shared';


export const MAX_POINTS = 1_000_000_000;

export interface AccountSnapshot {
  memberId: string;
  available: number;
  pending: number;
  reserved: number;
  /** Points owed after earned points were taken back once spent (see AccountBook.repayDebt). */
  debt: number;
  lifetimeEarned: number;
  lifetimeRedeemed: number;
  lifetimeExpired: number;
}

/** What every ledger write returns: the entry it made and the account right after. */
export interface LedgerResult {
  entry: EntryRecord;
  account: AccountSnapshot;
}

export interface AuthorizationResult extends LedgerResult {
  authorization: AuthorizationRecord;
}

export interface AccrueInput {
  member: MemberRef;
  points: number;
  reason?: string | null;
  /** Days the points live; else `expiresAt`; else the program's default lifetime. */
  lifetimeDays?: number | null;
  expiresAt?: Date | null;
  /** Days the points stay pending; else `availableAt`; else the program's pending period. */
  delayDays?: number | null;
  availableAt?: Date | null;
  idempotencyKey: string;
}

export interface SpendInput {
  member: MemberRef;
  points: number;
  reason?: string | null;
  idempotencyKey: string;
}

export interface AuthorizeInput extends SpendInput {
  /** The shop's reference, e.g. its order id. */
  reference?: string | null;
  ttlSeconds?: number | null;
}

export interface AdjustInput {
  member: MemberRef;
  /** Signed: positive credits a lot, negative spends nearest-expiry first. */
  points: number;
  reason: string;
  lifetimeDays?: number | null;
  idempotencyKey: string;
}

export function checkPoints(points: number, field = 'points', allowNegative = false): void {
  const magnitude = allowNegative ? Math.abs(points) : points;
  if (!Number.isSafeInteger(points) || magnitude < 1 || magnitude > MAX_POINTS) {
    throw badInput(
      `${field} must be a whole number from ${allowNegative ? '±' : ''}1 to ${allowNegative ? '±' : ''}${MAX_POINTS}`,
      { field, value: points },
    );
  }
}

function checkDays(days: number | null | undefined, field: string, min: number): void {
  if (days == null) return;
  if (!Number.isSafeInteger(days) || days < min || days > 36_500) {
    throw badInput(`${field} must be a whole number of days from ${min} to 36500`, { field, value: days });
  }
}

function reviveEntry(json: any): EntryRecord {
  return { ...json, createdAt: new Date(json.createdAt) };
}

function reviveResult(json: any): LedgerResult {
  return { entry: reviveEntry(json.entry), account: json.account };
}

function reviveAuthorization(json: any): AuthorizationRecord {
  return {
    ...json,
    expiresAt: new Date(json.expiresAt),
    createdAt: new Date(json.createdAt),
    closedAt: json.closedAt ? new Date(json.closedAt) : null,
  };
}

export function snapshot(book: AccountBook): AccountSnapshot {
  const s = book.state;
  return {
    memberId: s.memberId,
    available: s.available,
    pending: s.pending,
    reserved: s.reserved,
    debt: s.debt,
    lifetimeEarned: s.lifetimeEarned,
    lifetimeRedeemed: s.lifetimeRedeemed,
    lifetimeExpired: s.lifetimeExpired,
  };
}

/**
 * The points ledger. Each public method is one unit of work: it opens a transaction, locks
 * the member's account, writes entries through an AccountBook, records the idempotent
 * result, commits, and only then publishes the balance changes.
 */
export class LedgerService {
  /** The hooks the service was subscribed with: a one-statement write runs only when none hooks entries. */
  private hooks: DomainHooks | null = null;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    /** `oneStatementWrites: false` sends every write through the general path (AccountBook in a transaction). */
    private readonly options: { oneStatementWrites?: boolean } = {},
  ) {}

  /** A member registered: their account opens in the same transaction, before other hooks credit it. */
  subscribe(hooks: DomainHooks): void {
    this.hooks = hooks;
    hooks.on('member.registered', async (tx, e) => {
      await tx.run(openAccount, [randomUUID(), e.payload.programId, e.payload.id, this.clock.now()]);
    });
  }

  async accrue(ctx: RequestContext, input: AccrueInput): Promise<LedgerResult> {
    checkLotDates(input, this.clock.now());
    checkPoints(input.points);
    checkReason(input.reason);
    checkDays(input.lifetimeDays, 'lifetimeDays', 1);
    checkDays(input.delayDays, 'delayDays', 0);
    if (input.lifetimeDays != null && input.expiresAt) throw badInput('Give lifetimeDays or expiresAt, not both', { field: 'expiresAt' });
    if (input.delayDays != null && input.availableAt) throw badInput('Give delayDays or availableAt, not both', { field: 'availableAt' });
    const fast = await this.oneStatement(ctx, {
      operation: 'accrue', input, kind: EntryKind.ACCRUAL, points: input.points, refuseFrozen: false, cause: this.cause(ctx, input),
      lot: input,
    });
    if (fast) return fast;
    return this.write(ctx, 'accrue', input, input.member, async (book) => {
      const { availableAt, expiresAt } = lotTimes(book, input);
      return book.accrue(input.points, { availableAt, expiresAt, cause: this.cause(ctx, input) });
    });
  }

  async redeem(ctx: RequestContext, input: SpendInput): Promise<LedgerResult> {
    checkPoints(input.points);
    checkReason(input.reason);
    const fast = await this.oneStatement(ctx, {
      operation: 'redeem', input, kind: EntryKind.REDEMPTION, points: -input.points, refuseFrozen: true, cause: this.cause(ctx, input),
    });
    if (fast) return fast;
    return this.write(ctx, 'redeem', input, input.member, (book) => {
      book.assertActive();
      return book.redeem(input.points, this.cause(ctx, input));
    });
  }

  async adjust(ctx: RequestContext, input: AdjustInput): Promise<LedgerResult> {
    checkPoints(input.points, 'points', true);
    checkReason(input.reason, true);
    checkDays(input.lifetimeDays, 'lifetimeDays', 1);
    const cause = { ...this.cause(ctx, input), type: CauseType.ADMIN };
    const fast = await this.oneStatement(ctx, {
      operation: 'adjust', input, kind: EntryKind.ADJUSTMENT, points: input.points, refuseFrozen: false, cause,
      lot: { lifetimeDays: input.lifetimeDays, delayDays: 0 },
    });
    if (fast) return fast;
    return this.write(ctx, 'adjust', input, input.member, (book) => {
      if (input.points < 0) return book.redeem(-input.points, cause, EntryKind.ADJUSTMENT);
      const { availableAt, expiresAt } = lotTimes(book, { lifetimeDays: input.lifetimeDays, delayDays: 0 });
      return book.accrue(input.points, { availableAt, expiresAt, cause, kind: EntryKind.ADJUSTMENT });
    });
  }

  /**
   * Undoes an entry; an order's capture and awards are undone through the order (cancelOrder,
   * refundOrderLines). `ifSpent`: what to do when an accrual's points were spent or are held and
   * the account's other points do not cover them; refuse when absent.
   */
  async reverseEntry(ctx: RequestContext, input: { entryId: number; reason?: string | null; idempotencyKey: string; ifSpent?: Shortfall }) {
    checkReason(input.reason);
    const original = await this.findEntry(ctx.programId, input.entryId);
    // Refusing is what a reversal always did: a key that says so replays the ones before it.
    const { ifSpent, ...asked } = input;
    const request = ifSpent && ifSpent !== 'refuse' ? input : asked;
    return this.write(ctx, 'reverseEntry', request, { id: original.memberId }, async (book, tx) => {
      if (original.ownerType === 'order') {
        throw new PatronError(
          ErrorCode.INVALID_STATE,
          `Entry ${original.id} belongs to order ${original.ownerId}; use cancelOrder or refundOrderLines`,
          { entryId: apiEntryId(original.id), orderId: original.ownerId },
        );
      }
      const reversal = await book.reverse(original, this.cause(ctx, input), { shortfall: ifSpent ?? 'refuse' });
      if (isCredit(original)) {
        const payload = { entryId: original.id, reversalEntryId: reversal.id, recovered: -reversal.amount };
        await raise(tx, LedgerEvent.ACCRUAL_REVERSED, ACCRUAL_REVERSED, book.state, payload);
      }
      return reversal;
    });
  }

  authorizeRedemption(ctx: RequestContext, input: AuthorizeInput): Promise<AuthorizationResult> {
    checkPoints(input.points);
    checkReason(input.reason);
    if (input.ttlSeconds != null && (!Number.isSafeInteger(input.ttlSeconds) || input.ttlSeconds < 10 || input.ttlSeconds > 7 * 86400)) {
      throw badInput('ttlSeconds must be from 10 to 604800', { field: 'ttlSeconds' });
    }
    if (input.reference && input.reference.length > 200) throw badInput('reference must be at most 200 characters');
    return this.run(ctx, 'authorizeRedemption', input, reviveAuthorizationResult, async (tx) => {
      const book = await AccountBook.open(tx, ctx.programId, input.member, this.clock.now());
      book.assertActive();
      const id = randomUUID();
      const ttl = input.ttlSeconds ?? book.policy.authorizationTtlSeconds;
      const expiresAt = new Date(book.now.getTime() + ttl * 1000);
      const entry = await book.hold(input.points, id, this.cause(ctx, input));
      const authorization = await recordAuthorization(tx, book, { id, points: input.points, reference: input.reference ?? null, expiresAt });
      return { book, result: { entry, account: snapshot(book), authorization } };
    });
  }

  /** Spends `points` of the authorization (all by default); the rest goes back to available. */
  captureRedemption(ctx: RequestContext, input: { authorizationId: string; points?: number | null; idempotencyKey: string }) {
    if (input.points != null) checkPoints(input.points);
    return this.onAuthorization(ctx, 'captureRedemption', input, async (book, auth) => {
      if (book.now >= auth.expiresAt) {
        throw new PatronError(
          ErrorCode.AUTHORIZATION_EXPIRED,
          'The authorization expired: nothing can be captured, and its points go back to the member (the release job frees them within a minute; releaseRedemption does it now)',
          { authorizationId: auth.id },
        );
      }
      const points = input.points ?? auth.amount;
      if (points > auth.amount) {
        throw badInput(`Cannot capture ${points}: the authorization holds ${auth.amount}`, { field: 'points' });
      }
      const cause = this.cause(ctx, input);
      const entry = await book.capture(points, auth.id, cause);
      if (points < auth.amount) await book.release(auth.amount - points, auth.id, cause);
      return { entry, status: AuthorizationStatus.CAPTURED, captured: points };
    });
  }

  releaseRedemption(ctx: RequestContext, input: { authorizationId: string; idempotencyKey: string }) {
    return this.onAuthorization(ctx, 'releaseRedemption', input, async (book, auth) => {
      const entry = await book.release(auth.amount, auth.id, this.cause(ctx, input));
      return { entry, status: AuthorizationStatus.RELEASED, captured: 0 };
    });
  }

  /**
   * Releases one authorization whose TTL has passed; used by the job. Returns the entries written
   * (the job counts them), or null if it was already closed or is not yet due.
   */
  async releaseExpiredAuthorization(programId: string, authorizationId: string, now: Date): Promise<EntryRecord[] | null> {
    const outcome = await this.db.transaction(async (tx) => {
      const found = await this.loadAuthorization(tx, programId, authorizationId);
      const book = await AccountBook.open(tx, programId, { id: found.memberId }, now);
      // Re-read under the account lock: a capture or release may have closed it meanwhile.
      const auth = await this.loadAuthorization(tx, programId, authorizationId);
      if (auth.status !== AuthorizationStatus.OPEN || auth.expiresAt > now) return null;
      await book.release(auth.amount, auth.id, { type: CauseType.JOB, id: 'release-authorizations', reason: 'Authorization expired' });
      await closeAuthorization(tx, auth, AuthorizationStatus.RELEASED, 0, now);
      return book;
    });
    return outcome ? outcome.written : null;
  }

  async findEntry(programId: string, entryId: number): Promise<EntryRecord> {
    if (!Number.isSafeInteger(entryId) || entryId < 1) throw notFound('Ledger entry', { entryId: apiEntryId(entryId) });
    const [row] = await this.db.run(authStore.findEntry, [entryId, programId]);
    if (!row) throw notFound('Ledger entry', { entryId: apiEntryId(entryId) });
    return toEntryRecord(row, row.member_id);
  }

  private cause(actor: Actor, input: { reason?: string | null; idempotencyKey: string }): Cause {
    return {
      type: actor.kind === 'admin' ? CauseType.ADMIN : actor.kind === 'job' ? CauseType.JOB : CauseType.API,
      id: actor.id,
      reason: input.reason ?? null,
      idempotencyKey: input.idempotencyKey,
    };
  }

  /**
   * The usual accrual or spend in one round trip (see write-functions.ts); null when the case is
   * unusual, or when a domain hook wants to see entries inside the transaction: then the general path.
   */
  private async oneStatement(ctx: RequestContext, write: Omit<OneStatementWrite, 'now'>): Promise<LedgerResult | null> {
    if (this.options.oneStatementWrites === false || !this.hooks || this.hooks.handles(LedgerEvent.ENTRY_POSTED)) return null;
    const json = await writeInOneStatement(ctx, this.db, { ...write, now: this.clock.now() });
    return json === null ? null : reviveResult(json);
  }

  private write(
    actor: Actor,
    operation: string,
    input: { idempotencyKey: string },
    member: MemberRef,
    work: (book: AccountBook, tx: UnitOfWork) => Promise<EntryRecord>,
  ): Promise<LedgerResult> {
    return this.run(actor, operation, input, reviveResult, async (tx) => {
      const book = await AccountBook.open(tx, actor.programId, member, this.clock.now());
      const entry = await work(book, tx);
      return { book, result: { entry, account: snapshot(book) } };
    });
  }

  /** The transaction and its idempotency record; the book's entries reach subscribers through the outbox. */
  private async run<T>(
    actor: Actor,
    operation: string,
    input: { idempotencyKey: string },
    revive: (json: any) => T,
    work: (tx: UnitOfWork) => Promise<{ book: AccountBook; result: T }>,
  ): Promise<T> {
    checkClientKey(input.idempotencyKey);
    const { idempotencyKey, ...rest } = input;
    return idempotentTransaction(this.db, { programId: actor.programId, key: idempotencyKey, operation, input: rest, revive }, async (tx) =>
      (await work(tx)).result,
    );
  }

  private onAuthorization(
    actor: Actor,
    operation: string,
    input: { authorizationId: string; idempotencyKey: string },
    work: (book: AccountBook, auth: AuthorizationRecord) => Promise<{ entry: EntryRecord; status: AuthorizationStatus; captured: number }>,
  ): Promise<AuthorizationResult> {
    return this.run(actor, operation, input, reviveAuthorizationResult, async (tx) => {
      const found = await this.loadAuthorization(tx, actor.programId, input.authorizationId);
      const book = await AccountBook.open(tx, actor.programId, { id: found.memberId }, this.clock.now());
      // Re-read under the account lock: a concurrent capture or release may have closed it.
      const auth = await this.loadAuthorization(tx, actor.programId, input.authorizationId);
      if (auth.status !== AuthorizationStatus.OPEN) {
        throw new PatronError(ErrorCode.INVALID_STATE, `The authorization is already ${auth.status}`, {
          authorizationId: auth.id,
          status: apiEnum(auth.status),
        });
      }
      // An order's points move with the order, or the order and the books would disagree.
      if (auth.ownerType === 'order') {
        throw new PatronError(
          ErrorCode.INVALID_STATE,
          `The authorization belongs to order ${auth.ownerId}; use payOrder/cancelOrder`,
          { authorizationId: auth.id, orderId: auth.ownerId },
        );
      }
      const done = await work(book, auth);
      const authorization = await closeAuthorization(tx, auth, done.status, done.captured, book.now);
      return { book, result: { entry: done.entry, account: snapshot(book), authorization } };
    });
  }

  private async loadAuthorization(tx: Sql, programId: string, id: string): Promise<AuthorizationRecord> {
    const [row] = isUuid(id) ? await tx.run(authStore.loadAuthorization, [id, programId]) : [];
    if (!row) throw notFound('Authorization', { authorizationId: id });
    return toAuthorization(row, row.member_id);
  }
}

function reviveAuthorizationResult(json: any): AuthorizationResult {
  return { ...reviveResult(json), authorization: reviveAuthorization(json.authorization) };
}

/**
 * When a new lot becomes available and when it expires, from the input or the program's
 * defaults. A lot may become available in the past (points granted late), but never expire
 * before it becomes available, nor be expired already.
 */
export function lotTimes(
  book: AccountBook,
  input: { lifetimeDays?: number | null; expiresAt?: Date | null; delayDays?: number | null; availableAt?: Date | null },
): { availableAt: Date; expiresAt: Date | null } {
  const now = book.now.getTime();
  const availableAt = input.availableAt ?? new Date(now + (input.delayDays ?? book.policy.pendingDays) * DAY_MS);
  const lifetime = input.lifetimeDays ?? book.policy.defaultLifetimeDays;
  const expiresAt = input.expiresAt ?? (lifetime != null ? new Date(availableAt.getTime() + lifetime * DAY_MS) : null);
  if (expiresAt && expiresAt <= availableAt) {
    throw badInput('The points would expire before they become available', { field: 'expiresAt' });
  }
  if (expiresAt && expiresAt.getTime() <= now) {
    throw badInput('The points would be expired already', { field: 'expiresAt', expiresAt });
  }
  return { availableAt, expiresAt };
}
