import { ApiKeyRole } from '../../src/entities/api-key';
import type { Identity } from '../../src/graphql/context';
import { credentialKey, RateLimits } from '../../src/http/rate-limit';

/** What Patron adds to rate-limiter-flexible's counters: whose budget a request uses, and when a refusal starts. */
const key = (keyId: string): Identity => ({ kind: 'key', programId: 'p', keyId, role: ApiKeyRole.SERVER, operator: false });
const customer = (memberId: string): Identity => ({ kind: 'customer', programId: 'p', memberId, expiresAt: new Date(Date.now() + 60_000) });

describe('credentialKey', () => {
  test('a key counts as itself; a customer as its member, whatever token it holds; anonymous callers not at all', () => {
    expect(credentialKey(key('k1'))).toBe('key:k1');
    expect(credentialKey(customer('m1'))).toBe('member:m1');
    // A key id and a member id that happen to be equal are still two budgets.
    expect(credentialKey(key('same'))).not.toBe(credentialKey(customer('same')));
    expect(credentialKey({ kind: 'anonymous' })).toBeNull();
  });
});

describe('RateLimits', () => {
  test('failed authentications: the attempt over the limit is refused, and then the address before any check', async () => {
    const limits = new RateLimits({ authFailures: 2, requestsPerCredential: 0 });
    await expect(limits.beforeAuthentication('10.0.0.1')).resolves.toBeUndefined();
    await limits.authenticationFailed('10.0.0.1');
    await expect(limits.beforeAuthentication('10.0.0.1')).resolves.toBeUndefined();
    await limits.authenticationFailed('10.0.0.1');
    await expect(limits.beforeAuthentication('10.0.0.1')).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 60 } });
    await expect(limits.authenticationFailed('10.0.0.1')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // Another address, and a request with no known address, are not limited.
    await expect(limits.beforeAuthentication('10.0.0.2')).resolves.toBeUndefined();
    for (let i = 0; i < 5; i++) await expect(limits.authenticationFailed(null)).resolves.toBeUndefined();
  });

  test('requests: one budget per credential; a customer’s tokens share their member’s', async () => {
    const limits = new RateLimits({ authFailures: 0, requestsPerCredential: 2 });
    await limits.request(customer('m1'));
    await limits.request(customer('m1'));
    const refused = limits.request(customer('m1'));
    await expect(refused).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: expect.any(Number) } });
    await expect(refused).rejects.toThrow(/^Too many requests for this credential; retry in \d+ s$/);
    await limits.request(key('m1'));
    await limits.request(key('m1'));
    for (let i = 0; i < 5; i++) await expect(limits.request({ kind: 'anonymous' })).resolves.toBeUndefined();
  });

  test('a limit of 0 is no limit', async () => {
    const limits = new RateLimits({ authFailures: 0, requestsPerCredential: 0 });
    for (let i = 0; i < 50; i++) {
      await limits.authenticationFailed('10.0.0.1');
      await limits.request(key('k1'));
    }
    await expect(limits.beforeAuthentication('10.0.0.1')).resolves.toBeUndefined();
  });
});
