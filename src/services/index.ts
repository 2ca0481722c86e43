import type { MikroORM } from '@mikro-orm/postgresql';
import { AccessService } from './access-service';
import type { Clock } from './clock';
import type { EventPublisher } from './events';
import { LedgerQueries } from './ledger-queries';
import { LedgerService } from './ledger-service';
import { MemberService } from './member-service';

/** The domain, wired once per process. Resolvers and jobs reach services only through this. */
export interface Services {
  access: AccessService;
  members: MemberService;
  ledger: LedgerService;
  ledgerQueries: LedgerQueries;
}

export function createServices(
  orm: MikroORM,
  clock: Clock,
  events: EventPublisher,
  options: { tokenSecret?: string; customerTokenTtlSeconds: number },
): Services {
  const members = new MemberService(orm, clock);
  return {
    access: new AccessService(orm, clock, members, options),
    members,
    ledger: new LedgerService(orm, clock, events),
    ledgerQueries: new LedgerQueries(orm, clock),
  };
}
