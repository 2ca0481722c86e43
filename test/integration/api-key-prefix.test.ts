import { ApiKeyRole } from '../../src/entities/api-key';
import { keyPrefix } from '../../src/services/access';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/** `apiKeys` shows a prefix that tells keys apart without giving their secrets away. */
let h: RulesHarness;
beforeAll(async () => {
  h = await rulesHarness();
});
afterAll(() => h.close());

test('two new keys of one role have different prefixes, each the start of its secret', async () => {
  for (const role of [ApiKeyRole.SERVER, ApiKeyRole.ADMIN]) {
    const made = [await h.services.access.createApiKey(h.admin, { role, name: 'a' }), await h.services.access.createApiKey(h.admin, { role, name: 'b' })];
    expect(made[0].apiKey.prefix).not.toBe(made[1].apiKey.prefix);
    for (const { apiKey, secret } of made) {
      expect(apiKey.prefix).toHaveLength(14);
      expect(secret.startsWith(apiKey.prefix)).toBe(true);
    }
  }
  const { created } = await h.services.programs.createProgram(h.admin, { name: 'another shop' });
  const first = created as { apiKey: { prefix: string }; secret: string };
  expect(first.apiKey.prefix).toMatch(/^ptn_adm_.{6}$/);
  expect(first.secret.startsWith(first.apiKey.prefix)).toBe(true);
});

test('26 of a generated secret\'s 32 random characters stay hidden; a chosen secret shows only 8 characters', () => {
  expect(keyPrefix('ptn_srv_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345')).toBe('ptn_srv_ABCDEF');
  // PATRON_ADMIN_KEY may be 24 characters of anything: no more of it than before.
  expect(keyPrefix('ptn_adm_demo-operator-key-0123456789')).toBe('ptn_adm_');
  expect(keyPrefix('my-own-operator-secret-123')).toBe('my-own-o');
});

test('the operator key from PATRON_ADMIN_KEY keeps a short prefix', async () => {
  const keys = await h.services.access.listApiKeys(h.admin);
  expect(keys.find((k) => k.operator)!.prefix).toBe('test-ope');
});
