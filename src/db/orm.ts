import { MikroORM, Options } from '@mikro-orm/postgresql';
import { inspect } from 'node:util';
import type { Logger } from '../logger';
import { Migrator } from '@mikro-orm/migrations';
import { prepareAppRole } from './app-role';
import { Account } from '../entities/account';
import { ApiKey } from '../entities/api-key';
import { Authorization } from '../entities/authorization';
import { TrackedEvent } from '../entities/event';
import { LedgerEntry } from '../entities/ledger-entry';
import { EarnedSource, MemberSpend } from '../entities/earning';
import { IdempotencyRecord } from '../entities/idempotency-record';
import { Lot, LotAllocation } from '../entities/lot';
import { Member } from '../entities/member';
import { ShopOrder, ShopOrderAward, ShopOrderLine, ShopOrderRefund } from '../entities/order';
import { OutboxEvent, OutboxSequence, OutboxUnpublished } from '../entities/outbox';
import { Program } from '../entities/program';
import { Referral, ReferralAttempt, ReferralCode, ReferralPath, ReferralSignal, ReferralSite } from '../entities/referral';
import { Rule, RuleAward, RuleVersion } from '../entities/rule';
import { ServerSetting } from '../entities/server-setting';
import { JobRun } from '../entities/job-run';
import { MemberTier, TierHistory, TierLevel, TierQualification, TierStructure } from '../entities/tier';
import { Migration20261122000000_ledger } from '../migrations/Migration20261122000000_ledger';
import { Migration20261122010000_rules } from '../migrations/Migration20261122010000_rules';
import { Migration20261122020000_orders } from '../migrations/Migration20261122020000_orders';
import { Migration20261122030000_ledger_fixes } from '../migrations/Migration20261122030000_ledger_fixes';
import { Migration20261122040000_order_fixes } from '../migrations/Migration20261122040000_order_fixes';
import { Migration20261203000000_outbox } from '../migrations/Migration20261203000000_outbox';
import { Migration20261203000100_owners } from '../migrations/Migration20261203000100_owners';
import { Migration20261203100000_tiers } from '../migrations/Migration20261203100000_tiers';
import { Migration20261203110000_referrals } from '../migrations/Migration20261203110000_referrals';
import { Migration20261203120000_phone_region } from '../migrations/Migration20261203120000_phone_region';
import { Migration20261203130000_job_run } from '../migrations/Migration20261203130000_job_run';
import { Migration20261203140000_order_benefit } from '../migrations/Migration20261203140000_order_benefit';
import { Migration20261204100000_ledger_write_functions } from '../migrations/Migration20261204100000_ledger_write_functions';
import { Migration20261204300000_award_entries } from '../migrations/Migration20261204300000_award_entries';
import { Migration20261204600000_input_bounds } from '../migrations/Migration20261204600000_input_bounds';
import { Migration20261204700000_credentials } from '../migrations/Migration20261204700000_credentials';
import { Migration20261204800000_outbox_queue } from '../migrations/Migration20261204800000_outbox_queue';
import { Migration20261205100000_idempotency_written_once } from '../migrations/Migration20261205100000_idempotency_written_once';
import { Migration20261206100000_idempotency_turns } from '../migrations/Migration20261206100000_idempotency_turns';
import { Migration20261206200000_ledger_write_spends } from '../migrations/Migration20261206200000_ledger_write_spends';
import { Migration20261207100000_award_withdrawn } from '../migrations/Migration20261207100000_award_withdrawn';
import { Migration20261208100000_hot_path_foreign_keys } from '../migrations/Migration20261208100000_hot_path_foreign_keys';
import { Migration20261208200000_tier_structure_hold } from '../migrations/Migration20261208200000_tier_structure_hold';
import { Migration20261208300000_rule_version_no_truncate } from '../migrations/Migration20261208300000_rule_version_no_truncate';
import { Migration20261208400000_event_program_key } from '../migrations/Migration20261208400000_event_program_key';
import { CustomerTokenRevocation } from '../entities/customer-token-revocation';
import { MemberContactChange } from '../entities/member-contact-change';

export const entities = [
  Program, ApiKey, ServerSetting, IdempotencyRecord, Member, Account, LedgerEntry, Lot, LotAllocation, Authorization,
  Rule, RuleVersion, RuleAward, TrackedEvent, EarnedSource, MemberSpend, ShopOrder, ShopOrderLine, ShopOrderAward,
  ShopOrderRefund, OutboxEvent, OutboxSequence, OutboxUnpublished, TierStructure, TierLevel, TierQualification, MemberTier, TierHistory,
  ReferralCode, Referral, ReferralPath, ReferralAttempt, ReferralSignal, ReferralSite, JobRun, CustomerTokenRevocation,
  MemberContactChange,
];

/** Migrations are listed in code so the built server needs no file globbing. */
export const migrationsList = [
  { name: 'Migration20261122000000_ledger', class: Migration20261122000000_ledger },
  { name: 'Migration20261122010000_rules', class: Migration20261122010000_rules },
  { name: 'Migration20261122020000_orders', class: Migration20261122020000_orders },
  { name: 'Migration20261122030000_ledger_fixes', class: Migration20261122030000_ledger_fixes },
  { name: 'Migration20261122040000_order_fixes', class: Migration20261122040000_order_fixes },
  { name: 'Migration20261203000000_outbox', class: Migration20261203000000_outbox },
  { name: 'Migration20261203000100_owners', class: Migration20261203000100_owners },
  { name: 'Migration20261203100000_tiers', class: Migration20261203100000_tiers },
  { name: 'Migration20261203110000_referrals', class: Migration20261203110000_referrals },
  { name: 'Migration20261203120000_phone_region', class: Migration20261203120000_phone_region },
  { name: 'Migration20261203130000_job_run', class: Migration20261203130000_job_run },
  { name: 'Migration20261203140000_order_benefit', class: Migration20261203140000_order_benefit },
  { name: 'Migration20261204100000_ledger_write_functions', class: Migration20261204100000_ledger_write_functions },
  { name: 'Migration20261204300000_award_entries', class: Migration20261204300000_award_entries },
  { name: 'Migration20261204600000_input_bounds', class: Migration20261204600000_input_bounds },
  { name: 'Migration20261204700000_credentials', class: Migration20261204700000_credentials },
  { name: 'Migration20261204800000_outbox_queue', class: Migration20261204800000_outbox_queue },
  { name: 'Migration20261205100000_idempotency_written_once', class: Migration20261205100000_idempotency_written_once },
  { name: 'Migration20261206100000_idempotency_turns', class: Migration20261206100000_idempotency_turns },
  { name: 'Migration20261206200000_ledger_write_spends', class: Migration20261206200000_ledger_write_spends },
  { name: 'Migration20261207100000_award_withdrawn', class: Migration20261207100000_award_withdrawn },
  { name: 'Migration20261208100000_hot_path_foreign_keys', class: Migration20261208100000_hot_path_foreign_keys },
  { name: 'Migration20261208200000_tier_structure_hold', class: Migration20261208200000_tier_structure_hold },
  { name: 'Migration20261208300000_rule_version_no_truncate', class: Migration20261208300000_rule_version_no_truncate },
  { name: 'Migration20261208400000_event_program_key', class: Migration20261208400000_event_program_key },
];

export function ormOptions(clientUrl: string, poolMax = 20, logger?: Logger): Options {
  return {
    clientUrl,
    // knex writes its own warnings ("Connection Error: …" for a pooled connection the database
    // dropped) to the console as plain text; the server's log is JSON lines.
    ...(logger ? { driverOptions: { log: knexLog(logger) } } : {}),
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    pool: { min: 1, max: poolMax },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
    // Entities are few; a file cache would only add a ./temp folder and cross-process staleness.
    metadataCache: { enabled: false },
  };
}

/** knex's log, as lines of the server's logger. */
function knexLog(logger: Logger) {
  const orm = logger.child({ module: 'orm' });
  const text = (message: unknown) => (typeof message === 'string' ? message : inspect(message, { depth: 3 }));
  return {
    warn: (message: unknown) => orm.warn(text(message)),
    error: (message: unknown) => orm.error(text(message)),
    // knex hands its custom loggers the sentence it wrote ("… is deprecated, please use …").
    deprecate: (message: unknown) => orm.warn(text(message)),
    debug: (message: unknown) => orm.debug(text(message)),
  };
}

export async function openOrm(clientUrl: string, poolMax?: number, logger?: Logger): Promise<MikroORM> {
  return MikroORM.init(ormOptions(clientUrl, poolMax, logger));
}

/** Applies committed migrations; the schema is never synchronised from entities at run time. */
export async function migrate(orm: MikroORM): Promise<void> {
  await orm.getMigrator().up();
}

/**
 * Opens the ORM the application runs on: migrates as the owner (DATABASE_URL's role), prepares
 * the application's role (src/db/app-role.ts), then reconnects the same ORM as that role (its
 * metadata is discovered once). Returns the ORM and the URL the rest of the application uses.
 */
export async function openAppOrm(ownerUrl: string, appUrl: string | undefined, poolMax: number, logger?: Logger): Promise<{ orm: MikroORM; appUrl: string }> {
  const orm = await openOrm(ownerUrl, poolMax, logger);
  try {
    await migrate(orm);
    const url = await prepareAppRole(ownerUrl, appUrl);
    await orm.reconnect({ clientUrl: url });
    return { orm, appUrl: url };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}
