import { ErrorCode, PatronError } from '../errors';
import type { Identity } from '../graphql/context';

export interface RateLimitOptions {
  /** Failed authentications one client address may make per window before it is refused (0: no limit). */
  authFailures: number;
  /** Requests one API key (or one customer) may make per window (0: no limit). */
  requestsPerCredential: number;
  /** 60 in production; tests shorten it to see a window end. */
  windowSeconds?: number;
}

/**
 * Per-instance, in-memory counters: no database round trip on every request, and a flood of bad
 * keys writes nothing. Several instances behind a load balancer each allow the limit, so the
 * effective limit is the limit times the instances.
 *
 * An address that used up its failures is refused before its credential is even checked, so
 * guesses stop costing key look-ups; a credential's requests are counted after it is checked.
 *
 * The methods are async for their callers' sake, but count synchronously (a map look-up):
 * rate-limiter-flexible's memory store, used before, cost a few promises and objects per call.
 */
export class RateLimits {
  private readonly failures: WindowCounters | null;
  private readonly requests: WindowCounters | null;

  constructor(private readonly options: RateLimitOptions) {
    const windowMs = (options.windowSeconds ?? 60) * 1000;
    this.failures = options.authFailures > 0 ? new WindowCounters(windowMs) : null;
    this.requests = options.requestsPerCredential > 0 ? new WindowCounters(windowMs) : null;
  }

  /** Before authenticating: refuses an address that has used up its failed attempts. */
  async beforeAuthentication(address: string | null): Promise<void> {
    if (!this.failures || !address) return;
    const window = this.failures.peek(address, Date.now());
    if (window && window.count >= this.options.authFailures) throw rateLimited(window.msLeft, 'Too many failed authentications from this address');
  }

  /** After a failed authentication: counts it; the attempt that goes over the limit is refused too. */
  async authenticationFailed(address: string | null): Promise<void> {
    if (!this.failures || !address) return;
    const window = this.failures.hit(address, Date.now());
    if (window.count > this.options.authFailures) throw rateLimited(window.msLeft, 'Too many failed authentications from this address');
  }

  /** Counts a request of an authenticated caller against its key's (or customer's) budget. */
  async request(identity: Identity): Promise<void> {
    if (!this.requests || identity.kind === 'anonymous') return;
    const credential = identity.kind === 'key' ? `key:${identity.keyId}` : `member:${identity.memberId}`;
    const window = this.requests.hit(credential, Date.now());
    if (window.count > this.options.requestsPerCredential) throw rateLimited(window.msLeft, 'Too many requests for this credential');
  }
}

/**
 * Fixed windows per key: a key's window opens at its first hit and lasts `windowMs`; hits after
 * it ends open a new one. Ended windows are dropped at most once per window length, so keys that
 * stop coming (addresses, revoked keys) do not stay in memory.
 */
export class WindowCounters {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  private sweepAt = 0;

  constructor(private readonly windowMs: number) {}

  /** Keys held (open windows, and ended ones not yet dropped). */
  get size(): number {
    return this.windows.size;
  }

  /** The key's open window, or null. */
  peek(key: string, now: number): { count: number; msLeft: number } | null {
    const window = this.windows.get(key);
    return window && window.endsAt > now ? { count: window.count, msLeft: window.endsAt - now } : null;
  }

  /** Counts a hit in the key's open window (opening one when there is none). */
  hit(key: string, now: number): { count: number; msLeft: number } {
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    return { count: window.count, msLeft: window.endsAt - now };
  }

  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + this.windowMs;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

function rateLimited(msLeft: number, message: string): PatronError {
  const retryAfterSeconds = Math.max(1, Math.ceil(msLeft / 1000));
  return new PatronError(ErrorCode.RATE_LIMITED, `${message}; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}
