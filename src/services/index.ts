import type { Database } from '../db/database';
import { AccessService } from './access-service';
import type { Clock } from './clock';
import { EarningService } from './earning-service';
import { EventService } from './event-service';
import type { EventPublisher } from './events';
import { LedgerAudit } from './ledger-audit';
import { LedgerQueries } from './ledger-queries';
import { LedgerService } from './ledger-service';
import { MemberService } from './member-service';
import { OrderService } from './order-service';
import { ReferralService } from './referrals';
import { RuleService } from './rule-service';

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
  referrals: ReferralService;
}

export function createServices(
  db: Database,
  clock: Clock,
  events: EventPublisher,
  options: { tokenSecret?: string; customerTokenTtlSeconds: number; referralAllowPrivateHosts?: boolean },
): Services {
  const rules = new RuleService(db, clock);
  // Referrals: the tree's closure table answers earning's "referrer N levels up".
  const referrals = new ReferralService(db, clock, { allowPrivateHosts: options.referralAllowPrivateHosts });
  const earning = new EarningService(db, rules, referrals.referrers);
  const tracked = new EventService(db, clock, events, earning);
  // A new member's registration event (and welcome bonus) commits with the member; the
  // registration's referrer is checked and bound first (referrals), so its rules see the tree.
  const members = new MemberService(db, clock, async (tx, member) => {
    await referrals.attribution.onRegistered(tx, member);
    return tracked.onRegistered(tx, member);
  });
  return {
    access: new AccessService(db, clock, members, options),
    members,
    ledger: new LedgerService(db, clock, events),
    ledgerQueries: new LedgerQueries(db, clock),
    audit: new LedgerAudit(db),
    rules,
    earning,
    events: tracked,
    // Referrals: placeOrder binds the buyer to a referral code's owner.
    orders: new OrderService(db, clock, events, earning, referrals.attribution),
    referrals,
  };
}
