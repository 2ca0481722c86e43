/**
 * The referral network (R1–R6, F6): codes and links, attribution with its refusals, the tree
 * (a closure table), its figures, referrer websites, and the referrer lookup earning uses.
 * The only door other modules use.
 */
import type { Database, Sql } from '../../db/database';
import type { Clock, DomainHooks } from '../shared';
import { ReferralAttribution } from './attribution';
import { referralLink } from './logic';
import { MAX_TREE_DEPTH, ReferralNetwork } from './network';
import { ReferralSites, type SiteOptions } from './sites';
import * as store from './referral-store';

export { ReferralAttribution, type RegisteredMember } from './attribution';
export { ReferralNetwork, buildTree, MAX_TREE_DEPTH } from './network';
export { ReferralSites, type SiteOptions } from './sites';
export { ReferralRefusal, referralLink, mailboxKey, generateCode, normalizeCode } from './logic';
export * from './types';

/** The referral module, wired once per process. */
export class ReferralService {
  readonly attribution: ReferralAttribution;
  readonly network: ReferralNetwork;
  readonly sites: ReferralSites;
  /** What earning asks: the referrer N levels up (one index lookup), and how long their order awards vest. */
  readonly referrers: ReferralTreeReferrers;

  constructor(db: Database, clock: Clock, options: SiteOptions = {}) {
    this.attribution = new ReferralAttribution(db, clock);
    this.network = new ReferralNetwork(db);
    this.sites = new ReferralSites(db, clock, this.attribution, options);
    this.referrers = new ReferralTreeReferrers();
  }

  /** A registration names its referrer: bound (or refused, with the reason recorded) in the registering transaction. */
  subscribe(hooks: DomainHooks): void {
    hooks.on('member.registered', (tx, e) => this.attribution.onRegistered(tx, e.payload));
  }
}

/** Earning's view of the tree (the ReferrerResolver port of earning-service). */
export class ReferralTreeReferrers {
  referrerOf(tx: Sql, _programId: string, memberId: string, level: number): Promise<string | null> {
    return store.ancestorAt(tx, memberId, level);
  }

  /**
   * Days a referrer's award for an order stays pending: the program's return window, so a
   * return inside it takes back points nobody could spend yet. null: the rule's or the
   * program's usual pending period.
   */
  async vestingDays(tx: Sql, programId: string): Promise<number | null> {
    return (await store.programSettings(tx, programId))?.return_window_days ?? null;
  }
}

/** The member's link from the program's template. */
export const linkFor = (template: string, code: string) => referralLink(template, code);

