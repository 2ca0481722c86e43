import DataLoader from 'dataloader';
import type { Services } from '../services';
import type { ProgramRecord } from '../services/programs';
import type { AccountSnapshot } from '../services/ledger';
import type { RuleVersionRecord, RuleVersionRef } from '../services/earning';

/** Per-request batching: one query for all the accounts or programs a response needs. */
export interface Loaders {
  program: DataLoader<string, ProgramRecord>;
  accountByMember: DataLoader<string, AccountSnapshot | null>;
  /** The rule version a ledger entry names, with the rule's name. */
  ruleVersion: DataLoader<string, RuleVersionRef | null>;
  /** A rule's versions, newest first. */
  ruleVersions: DataLoader<string, RuleVersionRecord[]>;
}

export function createLoaders(services: Services, programId: string | null): Loaders {
  return {
    program: new DataLoader((ids) => services.programs.getPrograms(ids as string[])),
    accountByMember: new DataLoader((memberIds) =>
      programId ? services.ledgerQueries.accountsOf(programId, memberIds as string[]) : Promise.resolve(memberIds.map(() => null)),
    ),
    ruleVersion: new DataLoader((ids) =>
      programId ? services.rules.versionRefs(programId, ids) : Promise.resolve(ids.map(() => null)),
    ),
    ruleVersions: new DataLoader((ruleIds) =>
      programId ? services.rules.versionsOf(programId, ruleIds) : Promise.resolve(ruleIds.map(() => [])),
    ),
  };
}
