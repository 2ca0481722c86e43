import DataLoader from 'dataloader';
import type { Services } from '../services';
import type { ProgramRecord } from '../services/programs';
import type { AccountSnapshot } from '../services/ledger';
import type { AwardPart, RuleVersionRecord, RuleVersionRef } from '../services/earning';
import type { ReferralNodeRecord } from '../services/referrals';

/** Per-request batching: one query for all the accounts or programs a response needs. */
export interface Loaders {
  program: DataLoader<string, ProgramRecord>;
  accountByMember: DataLoader<string, AccountSnapshot | null>;
  /** The rule version a ledger entry names, with the rule's name. */
  ruleVersion: DataLoader<string, RuleVersionRef | null>;
  /** Which rules and versions gave a ledger entry its points, by entry id (empty when no rule did). */
  awardBreakdown: DataLoader<number, AwardPart[]>;
  /** A rule's versions, newest first. */
  ruleVersions: DataLoader<string, RuleVersionRecord[]>;
  /** Referrals: members' codes (made on first read), and direct referees — one statement per tree level. */
  referralCode: DataLoader<string, string>;
  referralChildren: DataLoader<string, ReferralNodeRecord[]>;
}

/**
 * Each loader is made on first use: most operations need none or one of them, and a DataLoader
 * costs its batch scheduling state even when nothing loads through it.
 */
export function createLoaders(services: Services, programId: string | null): Loaders {
  return new LazyLoaders(services, programId);
}

class LazyLoaders implements Loaders {
  #program?: Loaders['program'];
  #accountByMember?: Loaders['accountByMember'];
  #ruleVersion?: Loaders['ruleVersion'];
  #awardBreakdown?: Loaders['awardBreakdown'];
  #ruleVersions?: Loaders['ruleVersions'];
  #referralCode?: Loaders['referralCode'];
  #referralChildren?: Loaders['referralChildren'];

  constructor(
    private readonly services: Services,
    private readonly programId: string | null,
  ) {}

  get program() {
    return (this.#program ??= new DataLoader((ids) => this.services.programs.getPrograms(ids as string[])));
  }

  get accountByMember() {
    const { services, programId } = this;
    return (this.#accountByMember ??= new DataLoader((memberIds) =>
      programId ? services.ledgerQueries.accountsOf(programId, memberIds as string[]) : Promise.resolve(memberIds.map(() => null)),
    ));
  }

  get ruleVersion() {
    const { services, programId } = this;
    return (this.#ruleVersion ??= new DataLoader((ids) =>
      programId ? services.rules.versionRefs(programId, ids) : Promise.resolve(ids.map(() => null)),
    ));
  }

  get awardBreakdown() {
    const { services, programId } = this;
    return (this.#awardBreakdown ??= new DataLoader((entryIds) =>
      programId ? services.earning.awardBreakdowns(programId, entryIds) : Promise.resolve(entryIds.map(() => [])),
    ));
  }

  get ruleVersions() {
    const { services, programId } = this;
    return (this.#ruleVersions ??= new DataLoader((ruleIds) =>
      programId ? services.rules.versionsOf(programId, ruleIds) : Promise.resolve(ruleIds.map(() => [])),
    ));
  }

  get referralCode() {
    const { services, programId } = this;
    return (this.#referralCode ??= new DataLoader(async (memberIds) => {
      const codes = programId ? await services.referrals.attribution.codes(programId, memberIds) : new Map<string, string>();
      return memberIds.map((id) => codes.get(id) ?? new Error(`No referral code for member ${id}`));
    }));
  }

  get referralChildren() {
    const { services, programId } = this;
    return (this.#referralChildren ??= new DataLoader(
      (memberIds) => (programId ? services.referrals.network.childrenOf(programId, memberIds) : Promise.resolve(memberIds.map(() => []))),
      { maxBatchSize: 10_000 },
    ));
  }
}
