import type { MikroORM } from '@mikro-orm/postgresql';
import type { Database } from '../db/database';
import { AccessService, type CreatedApiKey } from './access';
import { DomainHooks, type Clock } from './shared';
import { EarningService } from './earning';
import { EventService } from './earning';
import { MissedEvents } from './realtime';
import { LedgerAudit } from './ledger';
import { LedgerQueries } from './ledger';
import { LedgerService } from './ledger';
import { MemberService } from './members';
import { OrderService } from './orders';
import { ProgramService } from './programs';
import { RuleService } from './earning';
import { TierService } from './tiers';
import { ReferralService } from './referrals';

/** The domain, wired once per process. Resolvers and jobs reach services only through this. */
export interface Services {
  access: AccessService;
  /** Programs and their settings; a new program comes with its first admin key. */
  programs: ProgramService<CreatedApiKey>;
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
  tiers: TierService;
  referrals: ReferralService;
}

export function createServices(
  db: Database,
  orm: MikroORM,
  clock: Clock,
  options: { tokenSecret?: string; customerTokenTtlSeconds: number; referralAllowPrivateHosts?: boolean },
): Services {
  const rules = new RuleService(orm, db, clock);
  const tiers = new TierService(db, clock);
  // The tree's closure table answers earning's "referrer N levels up".
  const referrals = new ReferralService(db, clock, { allowPrivateHosts: options.referralAllowPrivateHosts });
  // The rules see the member's tier and apply its earn multiplier.
  const earning = new EarningService(db, rules, referrals.referrers, tiers);
  const tracked = new EventService(db, clock, earning);
  const members = new MemberService(db, clock);
  // Domain hooks run inside the transaction that raised the event, in this order: a registration
  // opens the member's account, binds its referrer (refused ones are recorded), then raises its
  // event and welcome bonus, so the rules see the tree; the order lifecycle feeds tier qualification;
  // an award reversed through the ledger gives its rules' limits back.
  const ledger = new LedgerService(db, clock);
  const hooks = new DomainHooks();
  ledger.subscribe(hooks);
  earning.subscribe(hooks);
  referrals.subscribe(hooks);
  tracked.subscribe(hooks);
  tiers.subscribe(hooks);
  db.setDispatcher(hooks.dispatch);
  // A new program's first admin key is made by the access module, in the program's transaction.
  const programs: ProgramService<CreatedApiKey> = new ProgramService(orm, clock, (em, program) => access.firstAdminKey(em, program));
  const access = new AccessService(orm, db, clock, members, programs, options);
  return {
    access,
    programs,
    members,
    ledger,
    ledgerQueries: new LedgerQueries(db, clock),
    audit: new LedgerAudit(db),
    rules,
    earning,
    events: tracked,
    // A member's tier caps what they may pay with points (S1) and gives the discount an order may
    // take instead of points (T4), through the orders module's CheckoutTiers port; a referral code
    // at checkout binds the buyer.
    orders: new OrderService(db, clock, earning, tiers, referrals.attribution),
    missedEvents: new MissedEvents(db),
    tiers,
    referrals,
  };
}
