import type { Duplex } from 'node:stream';
import pg from 'pg';
import type { Queryable, Statement } from './statement';
import type { OutboxEvent } from './outbox-store';

/**
 * One transaction. Besides SQL it offers the two ways work leaves a transaction:
 * - `emit(event)`: a domain event. Handlers registered for it run now, inside the transaction
 *   (the domain hooks); the event is written to the outbox with the transaction, so it is
 *   published if and only if the transaction commits, even if the process dies right after.
 * - `afterCommit(fn)`: in-process work once committed (cache invalidation, waking the relay).
 * - `afterRollback(fn)`: in-process work when the attempt fails (a cache that may have misled it).
 * A deadlock retry starts with a fresh unit of work: nothing queued by a failed attempt survives.
 */
export interface UnitOfWork extends Queryable {
  execute<T = any>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * A statement whose result the work does not read (the stored answer, the outbox, a lock to
   * hold from here on): it goes out with the next statement the work waits for, or with COMMIT,
   * in the same round trip. If it fails, the unit of work fails with its error, there or at
   * commit, and rolls back.
   */
  write<P extends readonly unknown[]>(statement: Statement<P, unknown>, params: P): void;
  emit(event: OutboxEvent): Promise<void>;
  afterCommit(fn: () => void): void;
  afterRollback(fn: () => void): void;
  /**
   * Answers to the statements sent from now on reach the work once `proceed` resolves true; if
   * it resolves false they never do, and the work, left waiting, is abandoned. So work can go
   * out in the round trip of the read that decides whether it runs at all (an idempotency key's
   * turn), and never act on what it read, nor on how it failed, when it must not run. Abandoned
   * work takes the rest of the transaction with it: use it only for work that is the whole
   * transaction (idempotentTransaction), and `discard` the transaction when it must not run.
   */
  holdAnswersUntil(proceed: Promise<boolean>): void;
  /** The transaction rolls back when the work returns, and what the work returns is returned. */
  discard(): void;
}

interface QueryText {
  name?: string;
  text: string;
  values?: unknown[];
}

/**
 * A unit of work on one connection in pg's pipeline mode: a statement is sent without waiting
 * for the answers to the ones before it, and PostgreSQL runs them in order. So BEGIN goes out
 * with the first statement, and the writes queued with `write` go out with the next statement
 * or with COMMIT: each round trip saved is server and database CPU (a loopback round trip costs
 * more CPU than most of Patron's statements).
 *
 * Once a statement fails, PostgreSQL refuses every later one in the transaction ("current
 * transaction is aborted"); the unit of work reports the first failure, which is the one that
 * says what went wrong (a deadlock to retry, a CHECK that is the caller's mistake).
 */
export class PipelinedUnitOfWork {
  private readonly queued: QueryText[] = [];
  /** Statements sent without waiting; each settles (never rejects) once answered. */
  private readonly unanswered: Array<Promise<void>> = [];
  /** The first failure, and the place on the wire of the statement that failed. */
  private firstFailure: { error: unknown; at: number } | null = null;
  /** Statements sent so far: each one's place on the wire. */
  private sent = 0;
  /** A statement failed in pg, not in PostgreSQL (a parameter it could not encode, a lost connection). */
  private failedInClient = false;
  /** The connection's socket holds what is written until the end of this turn of the event loop. */
  private corkedThisTurn = false;
  /** Set by holdAnswersUntil: what the statements sent now wait for before their answers are given. */
  private held: Promise<void> | null = null;
  /** Committed or rolled back: the connection may already serve another unit of work. */
  private ended = false;
  /** The work was told never to go on (holdAnswersUntil): whatever it asks for from here is not sent, and never answered. */
  private abandoned = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly prepare: (sql: string) => { name?: string; text: string },
  ) {}

  /** BEGIN is queued: a healthy connection cannot refuse it, and a broken one fails every statement. */
  begin(sql: string): void {
    this.queued.push({ text: sql });
  }

  async run<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R[]> {
    return (await this.send({ name: statement.name, text: statement.text, values: params as unknown as unknown[] })).rows as R[];
  }

  async execute<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.send({ ...this.prepare(sql), values: params as unknown[] })).rows as R[];
  }

  write<P extends readonly unknown[]>(statement: Statement<P, unknown>, params: P): void {
    if (this.abandoned) return;
    this.refuseAfterEnd();
    this.queued.push({ name: statement.name, text: statement.text, values: params as unknown as unknown[] });
  }

  holdAnswersUntil(proceed: Promise<boolean>): void {
    const held = proceed.then((go) => {
      if (go) return undefined;
      this.abandoned = true;
      return new Promise<void>(() => undefined);
    });
    // Released, it holds nothing sent later; failed, the statements waiting on it fail with it.
    held.then(() => {
      if (this.held === held) this.held = null;
    }, () => undefined);
    this.held = held;
  }

  /** Sends what is queued and COMMIT; throws the first failure (the transaction then rolled back). */
  async commit(): Promise<void> {
    // The queued writes and COMMIT leave in one write, although a tick passes between them.
    const socket = this.socket();
    socket.cork();
    let answered: Promise<pg.QueryResult>;
    try {
      this.sendQueued();
      // pg refuses some statements without sending them (see sendQueued), by the next tick at the
      // latest: COMMIT sent behind one would commit the transaction without it.
      await new Promise((resolve) => process.nextTick(resolve));
      answered = this.send({ text: 'commit' });
      this.ended = true;
    } finally {
      socket.uncork();
    }
    const result = await answered;
    // COMMIT of a transaction a statement aborted rolls it back instead (and says ROLLBACK).
    if (result.command !== 'COMMIT') throw new Error(`The transaction did not commit (${result.command})`);
  }

  /**
   * Waits for everything sent, then rolls back; false when the connection must not be used again:
   * it could not roll back, or pg failed a statement itself (its recovery from a parameter it
   * cannot encode closes the prepared statement on the server while pg still counts it prepared).
   */
  async rollback(): Promise<boolean> {
    this.ended = true;
    this.queued.length = 0;
    await Promise.all(this.unanswered);
    const rolledBack = await this.client.query('rollback').then(
      () => true,
      () => false,
    );
    return rolledBack && !this.failedInClient;
  }

  /**
   * Sends the queued writes and then `query`, without waiting in between. It sends before its
   * first await, so statements go out, and run, in the order the work asked for them. The first
   * failure wins.
   */
  private async send(query: QueryText): Promise<pg.QueryResult> {
    // Abandoned work that wakes (it waited on something besides its statements) stays waiting.
    if (this.abandoned) return new Promise<pg.QueryResult>(() => undefined);
    this.refuseAfterEnd();
    const held = this.held;
    this.sendQueued();
    // The queued writes sent ahead of this statement; those queued behind it are another's to wait for.
    const ahead = this.unanswered.splice(0);
    // Something failed already (a write pg could not encode was never sent): nothing more runs.
    this.throwFirstFailure();
    this.corkUntilTurnEnds();
    // Failures are recorded in pg's callback, as answers arrive; the one first on the wire is
    // kept, whichever statement (queued or awaited, in whatever branch) it was.
    const at = ++this.sent;
    const result = await new Promise<pg.QueryResult | null>((answered) =>
      this.client.query(query, (error, res) => {
        if (error) this.failed(error, at);
        answered(error ? null : res);
      }),
    );
    // Answers come in order, so what was sent before has been answered: did any of it fail?
    if (ahead.length > 0) await Promise.all(ahead);
    // Held, a failure is not given either: abandoned work must not act on how it failed.
    if (held) await held;
    // A statement sent later may have failed already (its answer came in the same read): that is
    // for whoever waits on it, or on COMMIT, and not this statement's answer, which may be the
    // one deciding that work goes on (holdAnswersUntil).
    this.throwFirstFailure(at);
    return result!;
  }

  /**
   * Sends the queued writes, each answered by a callback that records its failure: pg calls it
   * at once for a parameter it cannot encode, on the next tick for a statement it refuses to
   * send, and otherwise when PostgreSQL answers.
   */
  private sendQueued(): void {
    if (this.queued.length > 0) this.corkUntilTurnEnds();
    for (const queued of this.queued.splice(0)) {
      const at = ++this.sent;
      const answered = new Promise<void>((settled) =>
        this.client.query(queued, (error) => {
          if (error) this.failed(error, at);
          settled();
        }),
      );
      this.unanswered.push(answered);
    }
  }

  /**
   * pg writes each statement to the socket by itself, and on loopback each write is a system
   * call that also wakes PostgreSQL, which then reads each by itself (a paid order made 11
   * socket writes where one per round trip will do). Statements sent in one turn of the event
   * loop (queued writes with the statement behind them, a lock with the read sent beside it)
   * leave in one write at its end.
   */
  private corkUntilTurnEnds(): void {
    if (this.corkedThisTurn) return;
    const socket = this.socket();
    this.corkedThisTurn = true;
    socket.cork();
    process.nextTick(() => {
      this.corkedThisTurn = false;
      socket.uncork();
    });
  }

  private socket(): Duplex {
    // pg's types give the connection to a Client only; a pooled client is one.
    return (this.client as unknown as pg.Client).connection.stream;
  }

  /** Nothing may be sent on a connection another unit of work may hold by now. */
  private refuseAfterEnd(): void {
    if (this.ended) throw new Error('This unit of work has ended: it committed or rolled back');
  }

  /** Throws the first failure (of a statement up to place `upTo` on the wire, when given). */
  private throwFirstFailure(upTo = Infinity): void {
    if (this.firstFailure && this.firstFailure.at <= upTo) throw this.firstFailure.error;
  }

  /**
   * Keeps the failure of the statement first on the wire: pg reports some failures of its own (a
   * parameter it cannot encode) before PostgreSQL answers the statements sent ahead of them.
   */
  private failed(error: unknown, at: number): void {
    if (!this.firstFailure || at < this.firstFailure.at) this.firstFailure = { error, at };
    if (!(error instanceof pg.DatabaseError)) this.failedInClient = true;
  }
}
