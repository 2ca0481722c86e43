import { BigIntType, Entity, OneToOne, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Member } from './member';
import { Program } from './program';

/**
 * The most points one account may hold (available + pending + reserved). With a point worth at
 * most MAX_POINT_VALUE_MINOR (1 000 000 minor units), every balance's worth in money stays
 * below Number.MAX_SAFE_INTEGER, so an answer can always carry it exactly. The database holds
 * the bound (`account_points_within_money_bound`): a write that would cross it rolls back.
 */
export const MAX_ACCOUNT_POINTS = 9_000_000_000;

/**
 * A member's points account. The balances are a cache of the ledger: every change goes
 * through a ledger entry written under this row's lock (see LedgerService).
 */
@Entity({ tableName: 'account' })
export class Account {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Program, { deleteRule: 'cascade' })
  program!: Program;

  @OneToOne(() => Member, { owner: true, unique: true, deleteRule: 'cascade' })
  member!: Member;

  /** Spendable now. */
  @Property({ type: new BigIntType('number') })
  available: number = 0;

  /** Earned, not spendable yet (e.g. waiting for the return window to close). */
  @Property({ type: new BigIntType('number') })
  pending: number = 0;

  /** Held by open authorizations at checkout. */
  @Property({ type: new BigIntType('number') })
  reserved: number = 0;

  /**
   * Points owed: earned points taken back after they were spent, under the 'allow_debt'
   * policy. Points that become available repay it first. The member's net points are
   * available + pending + reserved − debt.
   */
  @Property({ type: new BigIntType('number') })
  debt: number = 0;

  @Property({ type: new BigIntType('number') })
  lifetimeEarned: number = 0;

  @Property({ type: new BigIntType('number') })
  lifetimeRedeemed: number = 0;

  @Property({ type: new BigIntType('number') })
  lifetimeExpired: number = 0;

  /** Number of ledger entries so far; the newest entry's sequence within the account. */
  @Property({ type: new BigIntType('number') })
  entryCount: number = 0;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
