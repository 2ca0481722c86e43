import type { Database } from '../db/database';
import { AccessService } from './access';
import type { Clock } from './shared';
import { EarningService, MemberReferrers } from './earning';
import { EventService } from './earning';
import { MissedEvents } from './realtime';
import { LedgerAudit } from './ledger';
import { LedgerQueries } from './ledger';
import { LedgerService } from './ledger';
import { MemberService } from './members';
import { OrderService } from './orders';
import { RuleService } from './earning';

/** The domain, wired once per process. Resolvers and jobs reach services only through this. */
export interface Services {
  access: AccessService;
  members: MemberService;
  ledger: LedgerService;
  ledgerQueries: LedgerQueries;
  audit: LedgerAudit;
  rules: RuleService;
  /** The Earning port: what the order service calls when an order is paid. */
  earning: EarningService;
  events: EventService;
  orders: OrderService;
  /** What a subscriber missed, read back from the outbox. */
  missedEvents: MissedEvents;
}

export function createServices(
  db: Database,
  clock: Clock,
  options: { tokenSecret?: string; customerTokenTtlSeconds: number },
): Services {
  const rules = new RuleService(db, clock);
  const earning = new EarningService(db, rules, new MemberReferrers());
  const tracked = new EventService(db, clock, earning);
  // A new member's registration event (and welcome bonus) commits with the member.
  const members = new MemberService(db, clock, tracked.onRegistered);
  return {
    access: new AccessService(db, clock, members, options),
    members,
    ledger: new LedgerService(db, clock),
    ledgerQueries: new LedgerQueries(db, clock),
    audit: new LedgerAudit(db),
    rules,
    earning,
    events: tracked,
    orders: new OrderService(db, clock, earning),
    missedEvents: new MissedEvents(db),
  };
}
