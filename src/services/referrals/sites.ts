import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Database } from '../../db/database';
import { ReferralVia } from '../../entities/referral';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';
import type { MemberRef, RequestContext } from '../shared';
import type { Clock } from '../shared';
import { isUuid } from '../shared';
import { checkSignals, type ReferralAttribution } from './attribution';
import { VERIFICATION_PATH, fileHasToken, isPrivateAddress, referringHost, siteOrigin } from './logic';
import * as store from './referral-store';
import type { ReferralSiteRecord, ReportVisitInput, VisitResult } from './types';

export interface SiteOptions {
  /** Let verification reach loopback and private addresses (tests, intranets). Off by default. */
  allowPrivateHosts?: boolean;
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Referrer websites (R3): a member declares a site and gets a token; the site proves itself by
 * serving the token at /.well-known/patron-verification.txt; visits reported with a referring
 * URL from a verified site bind the visitor to its owner.
 */
export class ReferralSites {
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly attribution: ReferralAttribution,
    private readonly options: SiteOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.maxBytes = options.maxBytes ?? 4096;
  }

  /** Declares (or re-declares) a site; its token stays the same. */
  async declare(ctx: RequestContext, member: MemberRef, url: string): Promise<ReferralSiteRecord> {
    const { programId } = ctx;
    if (typeof url !== 'string' || url.length > 500) throw badInput('url must be at most 500 characters', { field: 'url' });
    let parsed: { origin: string; host: string };
    try {
      parsed = siteOrigin(url);
    } catch (error) {
      throw badInput(`url ${(error as Error).message}`, { field: 'url' });
    }
    const memberId = await this.attribution.memberId(this.db, programId, member, 'member');
    const token = `patron-site-verification=${randomBytes(18).toString('base64url')}`;
    return toSite(await store.upsertSite(this.db, { programId, memberId, ...parsed, token, now: this.clock.now() }));
  }

  async sitesOf(memberId: string): Promise<ReferralSiteRecord[]> {
    return (await store.sitesOf(this.db, memberId)).map(toSite);
  }

  /**
   * Fetches the site's verification file now. The answer is the site with `verified` and, when
   * not, `lastError`; a site that stops serving its token loses its verification. `ownerId`,
   * when given, must own the site (customers verify their own).
   */
  async verify(ctx: RequestContext, siteId: string, ownerId?: string): Promise<ReferralSiteRecord> {
    const { programId } = ctx;
    const site = isUuid(siteId) ? await store.site(this.db, programId, siteId) : null;
    if (!site || (ownerId && site.member_id !== ownerId)) throw notFound('Referral site', { siteId });
    let error: string | null = null;
    try {
      const body = await this.fetchText(new URL(VERIFICATION_PATH, site.origin));
      if (!fileHasToken(body, site.token)) error = 'the verification file does not contain the token';
    } catch (e) {
      error = (e as Error).message;
    }
    try {
      return toSite(await store.recordCheck(this.db, site.id, error === null, error, this.clock.now()));
    } catch (e) {
      if ((e as { code?: string }).code !== '23505') throw e;
      throw new PatronError(ErrorCode.CONFLICT, 'Another member verified this site first', { host: site.host });
    }
  }

  /** A visit from a referring URL: binds the visitor to the owner of the verified site it came from. */
  async reportVisit(ctx: RequestContext, input: ReportVisitInput): Promise<VisitResult> {
    const { programId } = ctx;
    if (typeof input.referringUrl !== 'string' || input.referringUrl.length > 2000) {
      throw badInput('referringUrl must be at most 2000 characters', { field: 'referringUrl' });
    }
    const host = referringHost(input.referringUrl);
    if (!host) throw badInput('referringUrl must be an http(s) URL', { field: 'referringUrl' });
    const signals = checkSignals(input.signals);
    return this.db.transaction(async (tx) => {
      const memberId = await this.attribution.memberId(tx, programId, input.member, 'member');
      const owner = await store.verifiedSiteOwner(tx, programId, host);
      const facts = (await store.memberFacts(tx, programId, 'id', memberId))!;
      if (!owner || facts.referrer_id) {
        // Nothing to attribute: no verified site, or a member bound already (visits are too many to record as attempts).
        await store.recordSignals(tx, programId, memberId, signals, this.clock.now());
        if (!owner) return { bound: false, referrerId: null, reason: 'no_verified_site' };
        return { bound: facts.referrer_id === owner, referrerId: owner, reason: facts.referrer_id === owner ? null : 'already_referred' };
      }
      const result = await this.attribution.attributeIn(tx, programId, memberId, owner, ReferralVia.WEBSITE, input.referringUrl, signals);
      return { bound: result.accepted, referrerId: owner, reason: result.reason };
    });
  }

  /** GET with a short timeout and a size limit, no redirects, and (unless allowed) no private or loopback address. */
  private fetchText(url: URL): Promise<string> {
    const allowPrivate = this.options.allowPrivateHosts === true;
    const guardedLookup: LookupFunction = (hostname, options, callback) => {
      lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const list = addresses as Array<{ address: string; family: number }>;
        const bad = list.find((a) => isPrivateAddress(a.address));
        if (bad && !allowPrivate) return callback(new Error(`${hostname} resolves to a private or loopback address`), '', 0);
        if ((options as { all?: boolean }).all) return (callback as any)(null, list);
        callback(null, list[0].address, list[0].family);
      });
    };
    // An address in the URL is never looked up: check it here.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) && isPrivateAddress(literal) && !allowPrivate) {
      return Promise.reject(new Error(`${literal} is a private or loopback address`));
    }
    return new Promise((resolve, reject) => {
      const get = url.protocol === 'https:' ? https.get : http.get;
      const request = get(url, { agent: false, lookup: guardedLookup, timeout: this.timeoutMs, headers: { 'user-agent': 'Patron site verification' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`${VERIFICATION_PATH} answered HTTP ${res.statusCode} (redirects are not followed)`));
        }
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxBytes) {
            request.destroy(new Error(`the verification file is larger than ${this.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      request.on('error', (e) => reject(new Error(e.message)));
    });
  }
}

function toSite(r: store.SiteRow): ReferralSiteRecord {
  return {
    id: r.id,
    memberId: r.member_id,
    origin: r.origin,
    host: r.host,
    token: r.token,
    verificationUrl: new URL(VERIFICATION_PATH, r.origin).toString(),
    verified: r.verified_at !== null,
    verifiedAt: r.verified_at && new Date(r.verified_at),
    checkedAt: r.checked_at && new Date(r.checked_at),
    lastError: r.last_error,
    createdAt: new Date(r.created_at),
  };
}
