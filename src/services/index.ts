import type { Database } from '../db/database';
import { AccessService } from './access/access-service';
import type { Clock } from './shared/clock';
import { EarningService, MemberReferrers } from './earning/earning-service';
import { EventService } from './earning/event-service';
import type { EventPublisher } from './realtime/balance-events';
import { LedgerAudit } from './ledger/ledger-audit';
import { LedgerQueries } from './ledger/ledger-queries';
import { LedgerService } from './ledger/ledger-service';
import { MemberService } from './members/member-service';
import { OrderService } from './orders/order-service';
import { RuleService } from './earning/rule-service';

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
}

export function createServices(
  db: Database,
  clock: Clock,
  events: EventPublisher,
  options: { tokenSecret?: string; customerTokenTtlSeconds: number },
): Services {
  const rules = new RuleService(db, clock);
  const earning = new EarningService(db, rules, new MemberReferrers());
  const tracked = new EventService(db, clock, events, earning);
  // A new member's registration event (and welcome bonus) commits with the member.
  const members = new MemberService(db, clock, tracked.onRegistered);
  return {
    access: new AccessService(db, clock, members, options),
    members,
    ledger: new LedgerService(db, clock, events),
    ledgerQueries: new LedgerQueries(db, clock),
    audit: new LedgerAudit(db),
    rules,
    earning,
    events: tracked,
    orders: new OrderService(db, clock, events, earning),
  };
}
