import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { isSupportedCountry } from 'libphonenumber-js';
import { badInput } from '../errors';

/** What happens when earned points are taken back (an order cancelled or returned) after they were spent. */
export enum NegativeBalancePolicy {
  /** The account owes the rest as debt; points that become available repay it first. */
  ALLOW_DEBT = 'allow_debt',
  /** Only what the account still has is taken; the rest is forgiven. */
  TAKE_AVAILABLE = 'take_available',
}

/** A program's settings: what an admin may change. */
export interface ProgramSettings {
  name: string;
  currency: string;
  pointValueMinor: number;
  defaultLifetimeDays: number | null;
  pendingDays: number;
  maxRedeemPercent: number;
  timeZone: string;
  authorizationTtlSeconds: number;
  /** Days before the birthday the birthday event is raised; 0 = on the day. */
  birthdayDaysBefore: number;
  /** Checkout policy (S1, S4): what points may pay for and what orders earn on. */
  excludeOnSale: boolean;
  excludeGiftCards: boolean;
  deliveryEligible: boolean;
  earnOnPointsPaidPart: boolean;
  /** When points taken back from a cancelled or returned order were already spent (S5). */
  negativeBalancePolicy: NegativeBalancePolicy;
  /** Referrals (R1, F6, E7): the link template with `{code}`, the tree's maximum depth, the return window referrers' awards wait out. */
  referralLinkTemplate: string;
  referralMaxDepth: number;
  returnWindowDays: number | null;
  /** Where members' phone numbers written without a country code are read (ISO 3166-1 alpha-2). */
  phoneDefaultRegion: string;
}

/** The most one point may be worth, in minor units (see MAX_ACCOUNT_POINTS in ./account). */
export const MAX_POINT_VALUE_MINOR = 1_000_000;

/** ISO 4217 codes as the runtime's ICU data knows them (updated with Node). */
const CURRENCIES = new Set<string>(Intl.supportedValuesOf('currency'));

/** Whether `code` is a current ISO 4217 currency code (RUB, USD, EUR …), not just three capitals. */
export function isCurrencyCode(code: string): boolean {
  return typeof code === 'string' && CURRENCIES.has(code);
}

/** Whether `region` is an ISO 3166-1 alpha-2 code whose numbering plan libphonenumber-js knows. */
export function isPhoneRegion(region: string): boolean {
  return /^[A-Z]{2}$/.test(region) && isSupportedCountry(region);
}

/** Where a member's referral code goes in the program's link template. */
export const LINK_PLACEHOLDER = '{code}';

/** What is wrong with a referral link template, or null. */
export function linkTemplateProblem(template: string): string | null {
  if (template.length > 500) return 'must be at most 500 characters';
  if (!template.includes(LINK_PLACEHOLDER)) return `must contain ${LINK_PLACEHOLDER}`;
  try {
    const url = new URL(template.replace(LINK_PLACEHOLDER, 'CODE'));
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s) URL';
  } catch {
    return 'must be a URL';
  }
  return null;
}

/** Settings that may be cleared (null): points that never expire, no return window of their own. */
const CLEARABLE = new Set<keyof ProgramSettings>(['defaultLifetimeDays', 'returnWindowDays']);

/**
 * A new program's settings where the admin names none. Where the column has a default, it is
 * this value (the entity's `default` options below; the schema test compares them).
 */
export const DEFAULT_SETTINGS: Readonly<ProgramSettings> = Object.freeze({
  name: 'Default program',
  currency: 'RUB',
  pointValueMinor: 100,
  defaultLifetimeDays: null,
  pendingDays: 0,
  maxRedeemPercent: 100,
  timeZone: 'Europe/Moscow',
  authorizationTtlSeconds: 900,
  birthdayDaysBefore: 0,
  excludeOnSale: true,
  excludeGiftCards: true,
  deliveryEligible: false,
  earnOnPointsPaidPart: false,
  negativeBalancePolicy: NegativeBalancePolicy.TAKE_AVAILABLE,
  referralLinkTemplate: 'https://shop.example/?ref={code}',
  referralMaxDepth: 10,
  returnWindowDays: null,
  phoneDefaultRegion: 'RU',
});

const SETTINGS = Object.keys(DEFAULT_SETTINGS) as Array<keyof ProgramSettings>;

/** Checks the settings given (absent ones are not checked); the first bad one is a BAD_USER_INPUT. */
export function checkSettings(s: Partial<ProgramSettings>): void {
  const intIn = (v: number | null | undefined, field: string, min: number, max: number) => {
    if (v != null && (!Number.isSafeInteger(v) || v < min || v > max)) {
      throw badInput(`${field} must be a whole number from ${min} to ${max}`, { field });
    }
  };
  if (s.name != null && (typeof s.name !== 'string' || !s.name.trim() || s.name.length > 200)) {
    throw badInput('name must be 1 to 200 characters', { field: 'name' });
  }
  if (s.currency != null && !isCurrencyCode(s.currency)) {
    throw badInput(`currency must be an ISO 4217 currency code, e.g. RUB, USD, EUR (got ${JSON.stringify(String(s.currency).slice(0, 10))})`, { field: 'currency' });
  }
  intIn(s.pointValueMinor, 'pointValueMinor', 1, MAX_POINT_VALUE_MINOR);
  intIn(s.defaultLifetimeDays, 'defaultLifetimeDays', 1, 36_500);
  intIn(s.pendingDays, 'pendingDays', 0, 365);
  intIn(s.maxRedeemPercent, 'maxRedeemPercent', 0, 100);
  intIn(s.authorizationTtlSeconds, 'authorizationTtlSeconds', 10, 7 * 86_400);
  intIn(s.birthdayDaysBefore, 'birthdayDaysBefore', 0, 31);
  intIn(s.referralMaxDepth, 'referralMaxDepth', 1, 10);
  intIn(s.returnWindowDays, 'returnWindowDays', 0, 365);
  const linkProblem = s.referralLinkTemplate != null ? linkTemplateProblem(s.referralLinkTemplate) : null;
  if (linkProblem) throw badInput(`referralLinkTemplate ${linkProblem}`, { field: 'referralLinkTemplate' });
  if (s.negativeBalancePolicy != null && !Object.values(NegativeBalancePolicy).includes(s.negativeBalancePolicy)) {
    throw badInput(`negativeBalancePolicy must be one of ${Object.values(NegativeBalancePolicy).join(', ')}`, { field: 'negativeBalancePolicy' });
  }
  if (s.phoneDefaultRegion != null && (typeof s.phoneDefaultRegion !== 'string' || !isPhoneRegion(s.phoneDefaultRegion))) {
    throw badInput('phoneDefaultRegion must be an ISO 3166-1 alpha-2 region with a known numbering plan, e.g. RU, US, DE', {
      field: 'phoneDefaultRegion',
    });
  }
  if (s.timeZone != null) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: s.timeZone });
    } catch {
      throw badInput('timeZone must be an IANA time zone, e.g. Europe/Moscow', { field: 'timeZone' });
    }
  }
}

/**
 * A loyalty program: one shop (tenant) with its own members, keys, rules and settings.
 * Settings are valid from construction on: the constructor and {@link Program.change} check them.
 */
@Entity({ tableName: 'program' })
export class Program implements ProgramSettings {
  @PrimaryKey({ type: 'uuid' })
  id: string;

  @Property({ type: 'text' })
  name: string;

  /** ISO 4217 code of the shop's money. */
  @Property({ type: 'text' })
  currency: string;

  /** Money value of one point in minor units (100 = one point is one ruble). */
  @Property({ type: 'integer' })
  pointValueMinor: number;

  /** Lifetime of accrued points when an accrual names none; null = points never expire. */
  @Property({ type: 'integer', nullable: true })
  defaultLifetimeDays: number | null = null;

  /** Days accrued points stay pending (e.g. the return window) when an accrual names none. */
  @Property({ type: 'integer', default: 0 })
  pendingDays: number = 0;

  /** Largest share of an order (percent of the eligible amount) payable with points. */
  @Property({ type: 'integer' })
  maxRedeemPercent: number;

  /** IANA time zone the shop lives in: birthdays, days and hours in rules. */
  @Property({ type: 'text' })
  timeZone: string;

  /** The birthday bonus is raised this many days before the birthday (0 = on the day). */
  @Property({ type: 'integer', default: 0 })
  birthdayDaysBefore: number = 0;

  /** Seconds an authorization (reserved points) lives before it releases itself. */
  @Property({ type: 'integer' })
  authorizationTtlSeconds: number;

  /** Sale items cannot be paid with points (S4). */
  @Property({ type: 'boolean', default: true })
  excludeOnSale: boolean = true;

  /** Gift cards cannot be paid with points: that would turn points into money. */
  @Property({ type: 'boolean', default: true })
  excludeGiftCards: boolean = true;

  /** Delivery can be paid with points. */
  @Property({ type: 'boolean', default: false })
  deliveryEligible: boolean = false;

  /** Orders earn on the part paid with points too. */
  @Property({ type: 'boolean', default: false })
  earnOnPointsPaidPart: boolean = false;

  @Property({ type: 'text', default: NegativeBalancePolicy.TAKE_AVAILABLE })
  negativeBalancePolicy: NegativeBalancePolicy = NegativeBalancePolicy.TAKE_AVAILABLE;

  /** The member's referral link: `{code}` is replaced by their code. */
  @Property({ type: 'text', default: 'https://shop.example/?ref={code}' })
  referralLinkTemplate: string = 'https://shop.example/?ref={code}';

  /** How many levels a referral tree may have below its top member (1 to 10). */
  @Property({ type: 'integer', default: 10 })
  referralMaxDepth: number = 10;

  /** Days a customer may return an order: referrers' awards for it stay pending until then. null = pendingDays. */
  @Property({ type: 'integer', nullable: true })
  returnWindowDays: number | null = null;

  /** Members' phone numbers without a country code are read as numbers of this region (ISO 3166-1 alpha-2). */
  @Property({ type: 'text', default: 'RU' })
  phoneDefaultRegion: string = 'RU';

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  /** Settings left out (or null) take {@link DEFAULT_SETTINGS}; all are checked. */
  constructor(settings: Partial<ProgramSettings> & { name: string }, createdAt: Date, id: string = randomUUID()) {
    const given = Object.fromEntries(Object.entries(settings).filter(([, v]) => v != null)) as Partial<ProgramSettings>;
    const s: ProgramSettings = { ...DEFAULT_SETTINGS, ...given };
    checkSettings(s);
    this.id = id;
    this.name = s.name;
    this.currency = s.currency;
    this.pointValueMinor = s.pointValueMinor;
    this.maxRedeemPercent = s.maxRedeemPercent;
    this.timeZone = s.timeZone;
    this.authorizationTtlSeconds = s.authorizationTtlSeconds;
    this.createdAt = createdAt;
    this.apply(s);
  }

  /**
   * Changes the settings given. Left out (undefined) keeps a setting; null clears the lifetime
   * and the return window, and is ignored for settings that need a value.
   */
  change(changes: Partial<{ [K in keyof ProgramSettings]: ProgramSettings[K] | null }>): Array<keyof ProgramSettings> {
    checkSettings(changes as Partial<ProgramSettings>);
    return this.apply(changes);
  }

  /** The settings as plain data. */
  settings(): ProgramSettings {
    return Object.fromEntries(SETTINGS.map((key) => [key, this[key]])) as unknown as ProgramSettings;
  }

  /** Sets the settings given and says which those were (for the write to store only them). */
  private apply(changes: Partial<{ [K in keyof ProgramSettings]: ProgramSettings[K] | null }>): Array<keyof ProgramSettings> {
    const applied: Array<keyof ProgramSettings> = [];
    for (const key of SETTINGS) {
      const value = changes[key];
      if (value === undefined || (value === null && !CLEARABLE.has(key))) continue;
      (this as unknown as Record<string, unknown>)[key] = value;
      applied.push(key);
    }
    return applied;
  }
}
