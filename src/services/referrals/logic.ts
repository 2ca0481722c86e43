import { randomBytes } from 'node:crypto';

/**
 * The referral module's pure logic: codes, links, contact normalisation for self-referral
 * detection, and matching a referring URL to a declared site. No I/O.
 */

/** 32 characters people read and type without confusion: no 0/O, no 1/I. */
export const CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
/** 8 characters of 32: 2^40 codes, so guessing one of 100 000 members' codes takes ~10^7 tries. */
export const CODE_LENGTH = 8;

/** A random code; 256 is a multiple of 32, so every character is equally likely. */
export function generateCode(random: (n: number) => Uint8Array = randomBytes): string {
  const bytes = random(CODE_LENGTH);
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[bytes[i] % 32];
  return code;
}

/** A code as a customer may type it: case, spaces and dashes do not matter. Null when it cannot be a code at all. */
export function normalizeCode(input: string): string | null {
  const code = input.trim().toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== CODE_LENGTH) return null;
  for (const ch of code) if (!CODE_ALPHABET.includes(ch)) return null;
  return code;
}

export { LINK_PLACEHOLDER, linkTemplateProblem } from '../../entities/program';
import { LINK_PLACEHOLDER } from '../../entities/program';

/** Checks a program's link template: an http(s) URL with `{code}` in it. Returns the problem, or null. */
export function referralLink(template: string, code: string): string {
  return template.split(LINK_PLACEHOLDER).join(encodeURIComponent(code));
}

const GMAIL = new Set(['gmail.com', 'googlemail.com']);

/**
 * The mailbox an address delivers to, for telling one person's addresses apart: lower case,
 * `+tag` dropped (plus addressing: Gmail, Outlook, Yandex, Fastmail …), and for Gmail the dots
 * dropped and googlemail.com read as gmail.com. Never stored as the member's e-mail.
 */
export function mailboxKey(email: string): string {
  const e = email.trim().toLowerCase();
  const at = e.lastIndexOf('@');
  if (at < 1) return e;
  let local = e.slice(0, at);
  let domain = e.slice(at + 1);
  local = local.split('+')[0];
  if (GMAIL.has(domain)) {
    domain = 'gmail.com';
    local = local.replace(/\./g, '');
  }
  return `${local}@${domain}`;
}

/** Why Patron refused to bind a member to a referrer. */
export enum ReferralRefusal {
  /** The member named themselves. */
  SELF_REFERRAL = 'self_referral',
  /** The referrer's e-mail is the member's (after normalisation). */
  SAME_EMAIL = 'same_email',
  SAME_PHONE = 'same_phone',
  /** The shop reported the same device hash for both. */
  SAME_DEVICE = 'same_device',
  SAME_IP = 'same_ip',
  /** The referrer is in the member's own network: binding would close a circle. */
  CYCLE = 'cycle',
  /** The member (or someone in their network) would sit deeper than the program's maximum. */
  TOO_DEEP = 'too_deep',
  /** The member has a referrer already: the first valid attribution wins. */
  ALREADY_REFERRED = 'already_referred',
  /** The member paid an order before: attribution must come before the first paid order. */
  AFTER_FIRST_ORDER = 'after_first_order',
}

/** What the check needs to know about the member and the candidate referrer. */
export interface AttributionFacts {
  memberId: string;
  referrerId: string;
  member: { email: string | null; phone: string | null; signals: Signal[] };
  referrer: { email: string | null; phone: string | null; signals: Signal[] };
  /** The member's current referrer, if any. */
  currentReferrerId: string | null;
  hasPaidOrder: boolean;
  /** The referrer is the member or in the member's network. */
  referrerIsInNetwork: boolean;
  /** Levels above the referrer (0 for a member nobody referred). */
  referrerLevel: number;
  /** Levels below the member (0 for a member who referred nobody). */
  networkHeight: number;
  maxDepth: number;
}

export type SignalKind = 'device' | 'ip';
export interface Signal {
  kind: SignalKind;
  hash: string;
}

/**
 * The first reason to refuse, in the order an admin would ask: is it the same person, would
 * it break the tree, is it too late. Null: the attribution is valid.
 */
export function refusalOf(f: AttributionFacts): ReferralRefusal | null {
  if (f.memberId === f.referrerId) return ReferralRefusal.SELF_REFERRAL;
  if (f.currentReferrerId) return ReferralRefusal.ALREADY_REFERRED;
  if (f.hasPaidOrder) return ReferralRefusal.AFTER_FIRST_ORDER;
  if (f.member.email && f.referrer.email && mailboxKey(f.member.email) === mailboxKey(f.referrer.email)) return ReferralRefusal.SAME_EMAIL;
  if (f.member.phone && f.referrer.phone && f.member.phone === f.referrer.phone) return ReferralRefusal.SAME_PHONE;
  const theirs = new Set(f.referrer.signals.map((s) => `${s.kind}:${s.hash}`));
  const shared = f.member.signals.filter((s) => theirs.has(`${s.kind}:${s.hash}`));
  if (shared.some((s) => s.kind === 'device')) return ReferralRefusal.SAME_DEVICE;
  if (shared.some((s) => s.kind === 'ip')) return ReferralRefusal.SAME_IP;
  if (f.referrerIsInNetwork) return ReferralRefusal.CYCLE;
  if (f.referrerLevel + 1 + f.networkHeight > f.maxDepth) return ReferralRefusal.TOO_DEEP;
  return null;
}

/** A device or IP hash as the shop sends it: 8 to 128 characters of [A-Za-z0-9_-=+/.:]. */
export function signalProblem(hash: string): string | null {
  return /^[A-Za-z0-9_\-=+/.:]{8,128}$/.test(hash) ? null : 'must be 8 to 128 characters of letters, digits and _-=+/.:';
}

/**
 * A declared site's origin: `https://host[:port]` (http allowed), no credentials, path or
 * query; the host lower-cased. Throws a message for anything else.
 */
export function siteOrigin(input: string): { origin: string; host: string } {
  let url: URL;
  try {
    url = new URL(input.trim().includes('://') ? input.trim() : `https://${input.trim()}`);
  } catch {
    throw new Error('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('must be an http(s) URL');
  if (url.username || url.password) throw new Error('must not carry credentials');
  if (!url.hostname || url.hostname.length > 253) throw new Error('has no host');
  return { origin: url.origin, host: url.host.toLowerCase() };
}

/**
 * The host a referring URL came from (host[:port], lower case), or null when it is not an
 * http(s) URL. `www.` is kept: a site is verified per host.
 */
export function referringHost(referringUrl: string): string | null {
  try {
    const url = new URL(referringUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    return url.host.toLowerCase() || null;
  } catch {
    return null;
  }
}

export const VERIFICATION_PATH = '/.well-known/patron-verification.txt';

/** The verification file proves the site when one of its lines is the token. */
export function fileHasToken(body: string, token: string): boolean {
  return body.split(/\r?\n/).some((line) => line.trim() === token);
}

/**
 * True for addresses a server-side fetch must not reach unless allowed: loopback, private
 * (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast and reserved ranges, IPv4-mapped
 * IPv6 of those.
 */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPrivateAddress(mapped[1]);
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 || a === 10 || a === 127 || a >= 224 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19))
    );
  }
  const v6 = address.toLowerCase();
  return v6 === '::' || v6 === '::1' || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || /^ff/.test(v6);
}
