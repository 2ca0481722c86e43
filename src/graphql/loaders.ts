import DataLoader from 'dataloader';
import type { Services } from '../services';
import type { ProgramRecord } from '../services/access-service';
import type { AccountSnapshot } from '../services/ledger-service';

/** Per-request batching: one query for all the accounts or programs a response needs. */
export interface Loaders {
  program: DataLoader<string, ProgramRecord>;
  accountByMember: DataLoader<string, AccountSnapshot | null>;
}

export function createLoaders(services: Services, programId: string | null): Loaders {
  return {
    program: new DataLoader((ids) => services.access.getPrograms(ids as string[])),
    accountByMember: new DataLoader((memberIds) =>
      programId ? services.ledgerQueries.accountsOf(programId, memberIds as string[]) : Promise.resolve(memberIds.map(() => null)),
    ),
  };
}
