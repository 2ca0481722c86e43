import type { Database } from '../db/database';
import { AccessService } from './access-service';
import type { Clock } from './clock';
import { EarningService, MemberReferrers } from './earning-service';
import { EventService } from './event-service';
import type { EventPublisher } from './events';
import { LedgerAudit } from './ledger-audit';
import { LedgerQueries } from './ledger-queries';
import { LedgerService } from './ledger-service';
import { MemberService } from './member-service';
import { OrderService } from './order-service';
import { RuleService } from './rule-service';
import { TierService } from './tiers';

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
  tiers: TierService;
}

export function createServices(
  db: Database,
  clock: Clock,
  events: EventPublisher,
  options: { tokenSecret?: string; customerTokenTtlSeconds: number },
): Services {
  const rules = new RuleService(db, clock);
  const tiers = new TierService(db, clock, events);
  // Tiers: the rules see the member's tier and apply its earn multiplier.
  const earning = new EarningService(db, rules, new MemberReferrers(), tiers);
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
    // Tiers: the order lifecycle feeds qualification (onOrderPaid / onOrderReversed).
    orders: new OrderService(db, clock, events, earning, tiers),
    tiers,
  };
}
