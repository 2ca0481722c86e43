import { createHash, hash, randomBytes } from 'node:crypto';
import { LockMode, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import { SignJWT, jwtVerify } from 'jose';
import type { Database } from '../../db/database';
import { configEntities, inConfigTransaction, storeChanges } from '../../db/config-writes';
import { ApiKey, ApiKeyRole } from '../../entities/api-key';
import { Program } from '../../entities/program';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';
import type { MemberService } from '../members';
import type { ProgramService } from '../programs';
import type { Clock, MemberRef, Page, RequestContext } from '../shared';
import { idCursor, isUuid, pageOf, pageSize, readIdCursor } from '../shared';
import { CustomerIds } from './customer-ids';
import {
  claimServerSecret, countOtherLiveAdminKeys, customerTokenGeneration, findKey, findKeysPage, findLiveKey,
  findOperatorKey, hasKey, lockBootstrap, revokeCustomerTokens,
} from './access-store';

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

/** A new key: its record, and the secret, shown only this once. */
export interface CreatedApiKey {
  apiKey: ApiKeyRecord;
  secret: string;
}

/** Revocation reaches other instances within this time; the revoking instance forgets at once. */
const KEY_CACHE_MS = 5_000;
const TOKEN_ISSUER = 'patron';

/** Every request hashes its key: the one-shot `hash` (Node 20.12) makes no Hash object. */
export const hashSecret: (secret: string) => string =
  typeof hash === 'function' ? (secret) => hash('sha256', secret, 'hex') : (secret) => createHash('sha256').update(secret).digest('hex');

/** A generated secret: the role's tag and 24 random bytes as 32 base64url characters (192 bits). */
function newSecret(role: ApiKeyRole): string {
  return `ptn_${role === ApiKeyRole.ADMIN ? 'adm' : 'srv'}_${randomBytes(24).toString('base64url')}`;
}

const GENERATED_SECRET = /^ptn_(adm|srv)_[A-Za-z0-9_-]{32}$/;
/** `ptn_adm_` and 6 random characters. */
const GENERATED_PREFIX_LENGTH = 14;
/** A secret Patron did not make (PATRON_ADMIN_KEY): no more than before. */
const CHOSEN_PREFIX_LENGTH = 8;

/**
 * What `apiKeys` shows of a secret to tell keys apart. Of a generated secret, the tag and 6 of
 * its 32 random characters: 36 bits, so among 1 000 keys two share a prefix with a chance of
 * about 1 in 140 000, while 26 characters (156 bits) stay secret. A secret the operator chose
 * may be as short as 24 characters and need not be random: only its first 8 are shown.
 */
export function keyPrefix(secret: string): string {
  return secret.slice(0, GENERATED_SECRET.test(secret) ? GENERATED_PREFIX_LENGTH : CHOSEN_PREFIX_LENGTH);
}

/** The cursor of a key in {@link AccessService.apiKeyPage}: pass it as `after` to read the keys after it. */
export const apiKeyCursor = (key: { id: string }): string => idCursor('apiKeys', key.id);

function toKey(key: ApiKey): ApiKeyRecord {
  return {
    id: key.id,
    programId: key.program.id,
    role: key.role,
    name: key.name,
    prefix: key.prefix,
    operator: key.operator,
    createdAt: key.createdAt,
    revokedAt: key.revokedAt,
  };
}

/**
 * API keys (MikroORM entities, one EntityManager fork per use case), customer tokens and the
 * installation's first start. Keys are authenticated on every request: a key's identity is kept
 * in memory for {@link KEY_CACHE_MS}.
 */
export class AccessService {
  private readonly keyCache = new Map<string, { identity: ApiKeyIdentity | null; until: number }>();
  /** Per member, the generation its tokens must carry (see {@link revokeCustomerTokens}), for {@link KEY_CACHE_MS}. */
  private readonly generationCache = new Map<string, { generation: number; until: number }>();
  private tokenKey?: Uint8Array;
  private ids?: Promise<CustomerIds>;

  constructor(
    private readonly orm: MikroORM,
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly members: MemberService,
    private readonly programs: ProgramService<unknown>,
    private readonly options: { tokenSecret?: string; customerTokenTtlSeconds: number },
  ) {}

  /**
   * First start: the default program and the operator's admin key (the given one, or a new
   * one returned so it can be printed once). Later starts change nothing — except that the key
   * `PATRON_ADMIN_KEY` names is always the operator's and live: revoked by mistake, it comes
   * back with the next start (the documented way back in).
   */
  async bootstrap(adminKey?: string): Promise<{ programId: string; generatedAdminKey?: string; reinstated?: boolean }> {
    const result = await inConfigTransaction(this.orm, async (em) => {
      await lockBootstrap(em);
      const program = await this.programs.firstProgram(em);
      if (adminKey) {
        const existing = await findKey(em, hashSecret(adminKey));
        if (!existing) {
          await this.newKey(em, program.id, ApiKeyRole.ADMIN, 'operator (PATRON_ADMIN_KEY)', adminKey, true);
          return { programId: program.id };
        }
        const reinstated = existing.reinstateAsOperator();
        if (reinstated) await storeChanges(em, existing, ['operator', 'role', 'revokedAt']);
        return { programId: program.id, reinstated };
      }
      if (await findOperatorKey(em)) return { programId: program.id };
      const secret = newSecret(ApiKeyRole.ADMIN);
      await this.newKey(em, program.id, ApiKeyRole.ADMIN, 'operator', secret, true);
      return { programId: program.id, generatedAdminKey: secret };
    });
    this.keyCache.clear();
    return result;
  }

  /** The key a secret names, or null (unknown or revoked); from memory when seen in the last seconds. */
  async authenticateKey(secret: string): Promise<ApiKeyIdentity | null> {
    const hash = hashSecret(secret);
    const cached = this.keyCache.get(hash);
    if (cached && cached.until > Date.now()) return cached.identity;
    const key = await findLiveKey(configEntities(this.orm), hash);
    const identity = key ? { keyId: key.id, programId: key.program.id, role: key.role, operator: key.operator } : null;
    if (this.keyCache.size > 10_000) this.keyCache.clear();
    this.keyCache.set(hash, { identity, until: Date.now() + KEY_CACHE_MS });
    return identity;
  }

  /** A new key of the program `ctx` names (the GraphQL edge lets only the operator name another than its own). */
  async createApiKey(ctx: RequestContext, input: { role: ApiKeyRole; name: string }): Promise<CreatedApiKey> {
    const em = configEntities(this.orm);
    if (!isUuid(ctx.programId) || !(await em.findOne(Program, { id: ctx.programId }))) throw notFound('Program', { programId: ctx.programId });
    const secret = newSecret(input.role);
    const key = await this.newKey(em, ctx.programId, input.role, input.name, secret);
    ctx.logger.info({ apiKeyId: key.id, role: key.role, programId: ctx.programId }, 'API key created');
    return { apiKey: toKey(key), secret };
  }

  /**
   * Revokes a key of the caller's program (the operator: of any program). A program's last live
   * admin key is refused: nothing could mint another. The program row is locked, so two
   * revocations of its last two admin keys cannot both pass.
   */
  async revokeApiKey(ctx: RequestContext, keyId: string, opts: { anyProgram?: boolean } = {}): Promise<ApiKeyRecord> {
    const key = await inConfigTransaction(this.orm, async (em) => {
      const found = isUuid(keyId) ? await em.findOne(ApiKey, opts.anyProgram ? { id: keyId } : { id: keyId, program: ctx.programId }) : null;
      if (!found) throw notFound('API key', { keyId });
      await em.findOne(Program, { id: found.program.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (found.role === ApiKeyRole.ADMIN && found.revokedAt === null && (await countOtherLiveAdminKeys(em, found)) === 0) {
        throw new PatronError(ErrorCode.INVALID_STATE, 'This is the program\'s last admin key: create another admin key before revoking it', { keyId });
      }
      found.revoke(this.clock.now());
      // Revoking twice keeps the first time, also when the other revocation committed after this read.
      const revoked = await storeChanges(em, found, ['revokedAt'], { revokedAt: null });
      if (revoked === 0) await em.refresh(found);
      return found;
    });
    this.keyCache.clear();
    ctx.logger.info({ apiKeyId: key.id, programId: key.program.id }, 'API key revoked');
    return toKey(key);
  }

  async listApiKeys(ctx: RequestContext): Promise<ApiKeyRecord[]> {
    const keys = await configEntities(this.orm).find(ApiKey, { program: ctx.programId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return keys.map(toKey);
  }

  /** The program's keys a page at a time, oldest first: `first` keys after the `after` cursor. */
  async apiKeyPage(ctx: RequestContext, opts: { first?: number | null; after?: string | null } = {}): Promise<Page<ApiKeyRecord>> {
    const limit = pageSize(opts.first);
    const afterId = readIdCursor('apiKeys', opts.after);
    const em = configEntities(this.orm);
    if (!isUuid(ctx.programId)) throw notFound('Program', { programId: ctx.programId });
    const keys = await findKeysPage(em, ctx.programId, afterId, limit + 1);
    if (afterId && keys.length === 0 && !(await hasKey(em, ctx.programId, afterId))) {
      throw badInput('after names no key of this program', { field: 'after' });
    }
    return pageOf(keys.map(toKey), limit, apiKeyCursor);
  }

  /** A new program's first admin key, in the transaction creating the program. */
  async firstAdminKey(em: EntityManager, program: { id: string }): Promise<CreatedApiKey> {
    const secret = newSecret(ApiKeyRole.ADMIN);
    const key = await this.newKey(em, program.id, ApiKeyRole.ADMIN, 'admin', secret);
    return { apiKey: toKey(key), secret };
  }

  async issueCustomerToken(ctx: RequestContext, member: MemberRef, ttlSeconds?: number | null) {
    const ttl = ttlSeconds ?? this.options.customerTokenTtlSeconds;
    if (!Number.isSafeInteger(ttl) || ttl < 60 || ttl > 86_400) throw badInput('ttlSeconds must be from 60 to 86400', { field: 'ttlSeconds' });
    const found = await this.members.get(ctx, member);
    const generation = await this.tokenGeneration(found.id, { fresh: true });
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const token = await new SignJWT({ pid: ctx.programId, ...(generation > 0 ? { gen: generation } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(found.id)
      .setIssuer(TOKEN_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(await this.tokenSecret());
    return { token, memberId: found.id, expiresAt: new Date((now + ttl) * 1000) };
  }

  /**
   * Every customer token issued for the member so far stops working: HTTP requests at once on
   * this instance (within {@link KEY_CACHE_MS} on others), and open WebSocket subscriptions at
   * their next credential check. Tokens issued afterwards work.
   */
  async revokeCustomerTokens(ctx: RequestContext, member: MemberRef): Promise<{ memberId: string; revokedAt: Date }> {
    const found = await this.members.get(ctx, member);
    const revokedAt = this.clock.now();
    const [{ generation }] = await this.db.run(revokeCustomerTokens, [found.id, ctx.programId, revokedAt, ctx.id]);
    this.generationCache.set(found.id, { generation, until: Date.now() + KEY_CACHE_MS });
    ctx.logger.info({ memberId: found.id, generation }, 'customer tokens revoked');
    return { memberId: found.id, revokedAt };
  }

  /** The member a customer token speaks for, or null when it is invalid, expired or revoked. */
  async verifyCustomerToken(token: string): Promise<CustomerIdentity | null> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await this.tokenSecret(), {
        issuer: TOKEN_ISSUER,
        algorithms: ['HS256'],
        currentDate: this.clock.now(),
      }));
    } catch {
      return null;
    }
    if (typeof payload.sub !== 'string' || typeof payload.pid !== 'string' || typeof payload.exp !== 'number') return null;
    // Tokens from before revocations existed carry no generation: the first one.
    const generation = payload.gen ?? 0;
    let current = await this.tokenGeneration(payload.sub);
    // Issued after a revocation this instance has not heard of yet: look again rather than refuse it.
    if (typeof generation === 'number' && generation > current) current = await this.tokenGeneration(payload.sub, { fresh: true });
    if (generation !== current) return null;
    return { programId: payload.pid, memberId: payload.sub, expiresAt: new Date(payload.exp * 1000) };
  }

  private async tokenGeneration(memberId: string, opts: { fresh?: boolean } = {}): Promise<number> {
    const cached = this.generationCache.get(memberId);
    if (!opts.fresh && cached && cached.until > Date.now()) return cached.generation;
    const [row] = await this.db.run(customerTokenGeneration, [memberId]);
    const generation = row?.generation ?? 0;
    if (this.generationCache.size > 100_000) this.generationCache.clear();
    this.generationCache.set(memberId, { generation, until: Date.now() + KEY_CACHE_MS });
    return generation;
  }

  /**
   * Ids as customers see them (entries and lots): the secret behind them is generated once and
   * shared by all instances through the database; it never changes, so neither do the ids.
   */
  customerIds(): Promise<CustomerIds> {
    if (!this.ids) {
      this.ids = this.sharedSecret('customer_id_secret').then((secret) => new CustomerIds(secret));
      // A failed load is forgotten, so the next call tries again.
      this.ids.catch(() => (this.ids = undefined));
    }
    return this.ids;
  }

  /** The configured secret, or one generated once and shared by all instances through the database. */
  private async tokenSecret(): Promise<Uint8Array> {
    if (this.tokenKey) return this.tokenKey;
    let secret = this.options.tokenSecret;
    if (!secret) secret = await this.sharedSecret('customer_token_secret');
    this.tokenKey = new TextEncoder().encode(secret);
    return this.tokenKey;
  }

  /**
   * A secret all instances share: the first to ask stores one. A claim that waited on a concurrent
   * first store reads nothing (its snapshot predates that commit), so it asks once more.
   */
  private async sharedSecret(key: string): Promise<string> {
    const candidate = randomBytes(32).toString('base64url');
    const [claimed] = await this.db.run(claimServerSecret, [key, candidate]);
    if (claimed) return claimed.value;
    const [stored] = await this.db.run(claimServerSecret, [key, candidate]);
    if (!stored) throw new Error(`server secret ${key} could not be read`);
    return stored.value;
  }

  private async newKey(em: EntityManager, programId: string, role: ApiKeyRole, name: string, secret: string, operator = false): Promise<ApiKey> {
    const key = new ApiKey(em.getReference(Program, programId, { wrapped: true }), {
      role, name, secretHash: hashSecret(secret), prefix: keyPrefix(secret), operator,
    }, this.clock.now());
    await em.insert(key);
    return key;
  }
}
