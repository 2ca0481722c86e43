import { BigIntType, Entity, OneToOne, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Member } from './member';
import { Program } from './program';

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
