import type { Database, Sql } from '../db/database';
import { isUuid } from './sql';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { ApiKeyRole } from '../entities/api-key';
import { NegativeBalancePolicy } from '../entities/program';
import { badInput, notFound } from '../errors';
import type { MemberRef } from './account-book';
import type { Clock } from './clock';
import type { MemberService } from './member-service';
import { checkReferralSettings } from './referrals';

export interface ApiKeyIdentity {
  keyId: string;
  programId: string;
  role: ApiKeyRole;
  operator: boolean;
}

export interface CustomerIdentity {
  programId: string;
  memberId: string;
  expiresAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  programId: string;
  role: ApiKeyRole;
  name: string;
  prefix: string;
  operator: boolean;
  createdAt: Date;
  revokedAt: Date | null;
}

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
}

export interface ProgramRecord extends ProgramSettings {
  id: string;
  createdAt: Date;
}

export const DEFAULT_SETTINGS: ProgramSettings = {
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
};

/** Revocation reaches other instances within this time; the revoking instance forgets at once. */
const KEY_CACHE_MS = 5_000;
const TOKEN_ISSUER = 'patron';

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

function newSecret(role: ApiKeyRole): string {
  return `ptn_${role === ApiKeyRole.ADMIN ? 'adm' : 'srv'}_${randomBytes(24).toString('base64url')}`;
}

function toKey(row: any): ApiKeyRecord {
  return {
    id: row.id,
    programId: row.program_id,
    role: row.role,
    name: row.name,
    prefix: row.prefix,
    operator: row.operator,
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
  };
}

export function toProgram(row: any): ProgramRecord {
  return {
    id: row.id,
    name: row.name,
    currency: row.currency,
    pointValueMinor: row.point_value_minor,
    defaultLifetimeDays: row.default_lifetime_days,
    pendingDays: row.pending_days,
    maxRedeemPercent: row.max_redeem_percent,
    timeZone: row.time_zone,
    authorizationTtlSeconds: row.authorization_ttl_seconds,
    birthdayDaysBefore: row.birthday_days_before,
    excludeOnSale: row.exclude_on_sale,
    excludeGiftCards: row.exclude_gift_cards,
    deliveryEligible: row.delivery_eligible,
    earnOnPointsPaidPart: row.earn_on_points_paid_part,
    negativeBalancePolicy: row.negative_balance_policy,
    referralLinkTemplate: row.referral_link_template,
    referralMaxDepth: row.referral_max_depth,
    returnWindowDays: row.return_window_days,
    createdAt: new Date(row.created_at),
  };
}

export function checkSettings(s: Partial<ProgramSettings>): void {
  const intIn = (v: number | null | undefined, field: string, min: number, max: number) => {
    if (v != null && (!Number.isSafeInteger(v) || v < min || v > max)) {
      throw badInput(`${field} must be a whole number from ${min} to ${max}`, { field });
    }
  };
  if (s.name != null && (!s.name.trim() || s.name.length > 200)) throw badInput('name must be 1 to 200 characters', { field: 'name' });
  if (s.currency != null && !/^[A-Z]{3}$/.test(s.currency)) throw badInput('currency must be an ISO 4217 code', { field: 'currency' });
  intIn(s.pointValueMinor, 'pointValueMinor', 1, 1_000_000);
  intIn(s.defaultLifetimeDays, 'defaultLifetimeDays', 1, 36_500);
  intIn(s.pendingDays, 'pendingDays', 0, 365);
  intIn(s.maxRedeemPercent, 'maxRedeemPercent', 0, 100);
  intIn(s.authorizationTtlSeconds, 'authorizationTtlSeconds', 10, 7 * 86_400);
  intIn(s.birthdayDaysBefore, 'birthdayDaysBefore', 0, 31);
  // Referral settings: checked by the referrals module.
  checkReferralSettings(s);
  if (s.negativeBalancePolicy != null && !Object.values(NegativeBalancePolicy).includes(s.negativeBalancePolicy)) {
    throw badInput(`negativeBalancePolicy must be one of ${Object.values(NegativeBalancePolicy).join(', ')}`, { field: 'negativeBalancePolicy' });
  }
  if (s.timeZone != null) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: s.timeZone });
    } catch {
      throw badInput('timeZone must be an IANA time zone, e.g. Europe/Moscow', { field: 'timeZone' });
    }
  }
}

/** Programs, API keys and customer tokens. */
export class AccessService {
  private readonly keyCache = new Map<string, { identity: ApiKeyIdentity | null; until: number }>();
  private tokenKey?: Uint8Array;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly members: MemberService,
    private readonly options: { tokenSecret?: string; customerTokenTtlSeconds: number },
  ) {}

  /**
   * First start: the default program and the operator's admin key (the given one, or a new
   * one returned so it can be printed once). Later starts change nothing.
   */
  async bootstrap(adminKey?: string): Promise<{ programId: string; generatedAdminKey?: string }> {
    return this.db.transaction(async (tx) => {
      await tx.execute(`select pg_advisory_xact_lock(hashtext('patron:bootstrap'))`);
      const [existing] = await tx.execute('select id from program order by created_at limit 1');
      let programId: string = existing?.id;
      if (!programId) {
        programId = randomUUID();
        await this.insertProgram(tx, programId, DEFAULT_SETTINGS);
      }
      const [operatorKey] = await tx.execute('select id, secret_hash from api_key where operator and revoked_at is null limit 1');
      if (adminKey) {
        if (!operatorKey || operatorKey.secret_hash !== hashSecret(adminKey)) {
          await tx.execute(
            `insert into api_key (id, program_id, role, name, secret_hash, prefix, operator, created_at)
             values (?, ?, 'admin', 'operator (PATRON_ADMIN_KEY)', ?, ?, true, ?) on conflict (secret_hash) do nothing`,
            [randomUUID(), programId, hashSecret(adminKey), adminKey.slice(0, 8), this.clock.now()],
          );
        }
        return { programId };
      }
      if (operatorKey) return { programId };
      const secret = newSecret(ApiKeyRole.ADMIN);
      await tx.execute(
        `insert into api_key (id, program_id, role, name, secret_hash, prefix, operator, created_at)
         values (?, ?, 'admin', 'operator', ?, ?, true, ?)`,
        [randomUUID(), programId, hashSecret(secret), secret.slice(0, 8), this.clock.now()],
      );
      return { programId, generatedAdminKey: secret };
    });
  }

  async authenticateKey(secret: string): Promise<ApiKeyIdentity | null> {
    const hash = hashSecret(secret);
    const cached = this.keyCache.get(hash);
    if (cached && cached.until > Date.now()) return cached.identity;
    const [row] = await this.db.execute(
      'select id, program_id, role, operator from api_key where secret_hash = ? and revoked_at is null',
      [hash],
    );
    const identity = row ? { keyId: row.id, programId: row.program_id, role: row.role, operator: row.operator } : null;
    if (this.keyCache.size > 10_000) this.keyCache.clear();
    this.keyCache.set(hash, { identity, until: Date.now() + KEY_CACHE_MS });
    return identity;
  }

  async createApiKey(programId: string, input: { role: ApiKeyRole; name: string }) {
    if (!input.name?.trim() || input.name.length > 100) throw badInput('name must be 1 to 100 characters', { field: 'name' });
    const secret = newSecret(input.role);
    const [row] = await this.db.execute(
      `insert into api_key (id, program_id, role, name, secret_hash, prefix, created_at)
       values (?, ?, ?::api_key_role, ?, ?, ?, ?) returning *`,
      [randomUUID(), programId, input.role, input.name, hashSecret(secret), secret.slice(0, 8), this.clock.now()],
    );
    return { apiKey: toKey(row), secret };
  }

  async revokeApiKey(programId: string, keyId: string): Promise<ApiKeyRecord> {
    const [row] = isUuid(keyId)
      ? await this.db.execute(
          `update api_key set revoked_at = coalesce(revoked_at, ?) where id = ? and program_id = ? returning *`,
          [this.clock.now(), keyId, programId],
        )
      : [];
    if (!row) throw notFound('API key', { keyId });
    this.keyCache.clear();
    return toKey(row);
  }

  async listApiKeys(programId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db.execute('select * from api_key where program_id = ? order by created_at', [programId]);
    return rows.map(toKey);
  }

  async createProgram(input: Partial<ProgramSettings> & { name: string }) {
    const settings = { ...DEFAULT_SETTINGS, ...stripNulls(input) };
    checkSettings(settings);
    const id = randomUUID();
    return this.db.transaction(async (tx) => {
      const program = await this.insertProgram(tx, id, settings);
      const secret = newSecret(ApiKeyRole.ADMIN);
      const [key] = await tx.execute(
        `insert into api_key (id, program_id, role, name, secret_hash, prefix, created_at)
         values (?, ?, 'admin', 'admin', ?, ?, ?) returning *`,
        [randomUUID(), id, hashSecret(secret), secret.slice(0, 8), this.clock.now()],
      );
      return { program, adminKey: toKey(key), adminSecret: secret };
    });
  }

  async getProgram(programId: string): Promise<ProgramRecord> {
    const [row] = await this.db.execute('select * from program where id = ?', [programId]);
    if (!row) throw notFound('Program', { programId });
    return toProgram(row);
  }

  /** Programs by id, in the order asked (for DataLoader). */
  async getPrograms(ids: string[]): Promise<ProgramRecord[]> {
    const rows = await this.db.execute('select * from program where id = any(?::uuid[])', [`{${ids.join(',')}}`]);
    const byId = new Map(rows.map((r: any) => [r.id, toProgram(r)]));
    return ids.map((id) => {
      const program = byId.get(id);
      if (!program) throw notFound('Program', { programId: id });
      return program;
    });
  }

  async updateProgramSettings(programId: string, input: Partial<ProgramSettings>): Promise<ProgramRecord> {
    checkSettings(input);
    const columns: Record<keyof ProgramSettings, string> = {
      name: 'name',
      currency: 'currency',
      pointValueMinor: 'point_value_minor',
      defaultLifetimeDays: 'default_lifetime_days',
      pendingDays: 'pending_days',
      maxRedeemPercent: 'max_redeem_percent',
      timeZone: 'time_zone',
      authorizationTtlSeconds: 'authorization_ttl_seconds',
      birthdayDaysBefore: 'birthday_days_before',
      excludeOnSale: 'exclude_on_sale',
      excludeGiftCards: 'exclude_gift_cards',
      deliveryEligible: 'delivery_eligible',
      earnOnPointsPaidPart: 'earn_on_points_paid_part',
      negativeBalancePolicy: 'negative_balance_policy',
      referralLinkTemplate: 'referral_link_template',
      referralMaxDepth: 'referral_max_depth',
      returnWindowDays: 'return_window_days',
    };
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [field, column] of Object.entries(columns) as Array<[keyof ProgramSettings, string]>) {
      if (input[field] === undefined) continue;
      // Only the lifetime and the return window may be cleared; other settings need a value.
      if (input[field] === null && field !== 'defaultLifetimeDays' && field !== 'returnWindowDays') continue;
      sets.push(`${column} = ?`);
      params.push(input[field]);
    }
    if (sets.length === 0) return this.getProgram(programId);
    const [row] = await this.db.execute(
      `update program set ${sets.join(', ')} where id = ? returning *`,
      [...params, programId],
    );
    if (!row) throw notFound('Program', { programId });
    return toProgram(row);
  }

  async issueCustomerToken(programId: string, member: MemberRef, ttlSeconds?: number | null) {
    const ttl = ttlSeconds ?? this.options.customerTokenTtlSeconds;
    if (!Number.isSafeInteger(ttl) || ttl < 60 || ttl > 86_400) throw badInput('ttlSeconds must be from 60 to 86400', { field: 'ttlSeconds' });
    const found = await this.members.get(programId, member);
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const token = await new SignJWT({ pid: programId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(found.id)
      .setIssuer(TOKEN_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(await this.tokenSecret());
    return { token, memberId: found.id, expiresAt: new Date((now + ttl) * 1000) };
  }

  /** The member a customer token speaks for, or null when it is invalid or expired. */
  async verifyCustomerToken(token: string): Promise<CustomerIdentity | null> {
    try {
      const { payload } = await jwtVerify(token, await this.tokenSecret(), {
        issuer: TOKEN_ISSUER,
        algorithms: ['HS256'],
        currentDate: this.clock.now(),
      });
      if (typeof payload.sub !== 'string' || typeof payload.pid !== 'string' || typeof payload.exp !== 'number') return null;
      return { programId: payload.pid, memberId: payload.sub, expiresAt: new Date(payload.exp * 1000) };
    } catch {
      return null;
    }
  }

  /** The configured secret, or one generated once and shared by all instances through the database. */
  private async tokenSecret(): Promise<Uint8Array> {
    if (this.tokenKey) return this.tokenKey;
    let secret = this.options.tokenSecret;
    if (!secret) {
      const em = this.db;
      await em.execute(`insert into server_setting (key, value) values ('customer_token_secret', ?) on conflict do nothing`, [
        randomBytes(32).toString('base64url'),
      ]);
      const [row] = await em.execute(`select value from server_setting where key = 'customer_token_secret'`);
      secret = row.value as string;
    }
    this.tokenKey = new TextEncoder().encode(secret);
    return this.tokenKey;
  }

  private async insertProgram(tx: Sql, id: string, s: ProgramSettings) {
    const [row] = await tx.execute(
      `insert into program (id, name, currency, point_value_minor, default_lifetime_days, pending_days, max_redeem_percent,
         time_zone, authorization_ttl_seconds, birthday_days_before, exclude_on_sale, exclude_gift_cards, delivery_eligible,
         earn_on_points_paid_part, negative_balance_policy, referral_link_template, referral_max_depth, return_window_days, created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
      [id, s.name, s.currency, s.pointValueMinor, s.defaultLifetimeDays, s.pendingDays, s.maxRedeemPercent, s.timeZone,
        s.authorizationTtlSeconds, s.birthdayDaysBefore, s.excludeOnSale, s.excludeGiftCards, s.deliveryEligible,
        s.earnOnPointsPaidPart, s.negativeBalancePolicy, s.referralLinkTemplate, s.referralMaxDepth, s.returnWindowDays, this.clock.now()],
    );
    return toProgram(row);
  }
}

function stripNulls<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}
