import type { EventDispatcher, OutboxEvent, UnitOfWork } from '../../db/database';

/**
 * The domain events other modules may hook into, by type. A module that raises events declares
 * them here by declaration merging, beside the code that emits them:
 *
 * ```ts
 * declare module '../shared/hooks' {
 *   interface DomainEvents { 'order.paid': OrderPaid }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface DomainEvents {}

export type DomainEventType = keyof DomainEvents & string;

/** What a hook receives: the event's payload with the program and member it is about. */
export interface Raised<K extends DomainEventType> {
  type: K;
  programId: string;
  memberId: string | null;
  payload: DomainEvents[K];
}

/** Runs inside the transaction that raised the event; throwing rolls the whole write back. */
export type Hook<K extends DomainEventType> = (tx: UnitOfWork, event: Raised<K>) => Promise<void>;

/**
 * Domain hooks. An event is raised with `raise(tx, …)`: it goes to the transaction's outbox
 * (published after commit, for subscribers and, later, webhooks) and, before that, to every hook
 * registered for its type, in registration order, inside the same transaction. So tiers, coupons
 * and referral vesting follow orders without the order use cases knowing them.
 */
export class DomainHooks {
  private readonly hooks = new Map<string, Array<Hook<never>>>();

  on<K extends DomainEventType>(type: K, hook: Hook<K>): this {
    const list = this.hooks.get(type) ?? [];
    list.push(hook as Hook<never>);
    this.hooks.set(type, list);
    return this;
  }

  /** Whether any hook runs for `type`: a write that bypasses `emit` may do so only when none does. */
  handles(type: DomainEventType): boolean {
    return (this.hooks.get(type)?.length ?? 0) > 0;
  }

  /** For the unit of work: called with every event a transaction emits. */
  readonly dispatch: EventDispatcher = async (tx, event) => {
    for (const hook of this.hooks.get(event.type) ?? []) {
      await (hook as Hook<DomainEventType>)(tx, event as unknown as Raised<DomainEventType>);
    }
  };
}

/** Raises a domain event in `tx`: its hooks run now, subscribers see it after commit. */
export function raise<K extends DomainEventType>(
  tx: UnitOfWork,
  type: K,
  topic: string,
  about: { programId: string; memberId: string | null },
  payload: DomainEvents[K],
): Promise<void> {
  const event: OutboxEvent = { type, topic, programId: about.programId, memberId: about.memberId, payload };
  return tx.emit(event);
}
