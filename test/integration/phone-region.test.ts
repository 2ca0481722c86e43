import { DEFAULT_SETTINGS } from '../../src/services/programs';
import type { RequestContext } from '../../src/services/shared';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * Phones without a country code are read in the program's `phoneDefaultRegion`: on registration
 * and wherever a member is named by phone (lookups, the ledger, events, referrals).
 */

let h: RulesHarness;
let seq = 0;

beforeAll(async () => {
  h = await rulesHarness();
});
afterAll(() => h.close());

async function shop(phoneDefaultRegion?: string): Promise<{ programId: string; server: RequestContext }> {
  const { program } = await h.services.programs.createProgram(h.admin, { name: `shop-${++seq}`, phoneDefaultRegion });
  return { programId: program.id, server: testContext(program.id, 'server', 'storefront') };
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e) => `${e.code}:${e.details?.field}`);

describe('phoneDefaultRegion', () => {
  it('is RU unless set, and must be a region libphonenumber-js knows', async () => {
    expect(DEFAULT_SETTINGS.phoneDefaultRegion).toBe('RU');
    const { server } = await shop();
    expect((await h.services.programs.getProgram(server)).phoneDefaultRegion).toBe('RU');
    for (const bad of ['us', 'USA', 'XX', '001', '']) {
      await expect(codeOf(h.services.programs.updateProgramSettings(server, { phoneDefaultRegion: bad }))).resolves.toBe(
        'BAD_USER_INPUT:phoneDefaultRegion',
      );
      await expect(codeOf(h.services.programs.createProgram(h.admin, { name: `bad-${++seq}`, phoneDefaultRegion: bad }))).resolves.toBe(
        'BAD_USER_INPUT:phoneDefaultRegion',
      );
    }
    expect((await h.services.programs.updateProgramSettings(server, { phoneDefaultRegion: 'DE' })).phoneDefaultRegion).toBe('DE');
  });

  it('programs that never set it read national numbers as Russian, as before', async () => {
    const [row] = await h.orm.em.fork().execute('select phone_default_region from program where id = ?', [h.programId]);
    expect(row.phone_default_region).toBe('RU');
    const { member } = await h.services.members.upsert(h.server, { externalId: `ru-${++seq}`, phone: '8 912 345-67-89' });
    expect(member.phone).toBe('+79123456789');
  });

  it('a US shop registers (415) 555-2671 as +14155552671 and finds the member by it in any spelling', async () => {
    const us = await shop('US');
    const { member } = await h.services.members.upsert(us.server, { externalId: 'amy', phone: '(415) 555-2671' });
    expect(member.phone).toBe('+14155552671');
    for (const phone of ['(415) 555-2671', '415.555.2671', '+1 415 555 2671', '1 (415) 555-2671']) {
      expect((await h.services.members.get(us.server, { phone })).id).toBe(member.id);
    }
    // The ledger, the events' dry run and the referrals read the phone the same way.
    const accrued = await h.services.ledger.accrue(us.server, { member: { phone: '(415) 555-2671' }, points: 7, idempotencyKey: `k-${++seq}` });
    expect(accrued.entry.memberId).toBe(member.id);
    expect((await h.services.ledgerQueries.account(us.server, { phone: '415-555-2671' })).available).toBe(7);
    expect(await h.services.ledgerQueries.memberId(us.server, { phone: '4155552671' })).toBe(member.id);
    const bob = (await h.services.members.upsert(us.server, { externalId: 'bob', phone: '(415) 555-2672' })).member;
    const attributed = await h.services.referrals.attribution.attribute(testContext(us.programId), {
      member: { phone: '(415) 555-2672' }, referrer: { phone: '(415) 555-2671' },
    });
    expect(attributed.accepted).toBe(true);
    expect((await h.services.members.get(us.server, { id: bob.id })).referrerId).toBe(member.id);
  });

  it('a RU shop registers 8 912 345-67-89 as +79123456789', async () => {
    const ru = await shop('RU');
    const { member } = await h.services.members.upsert(ru.server, { externalId: 'ivan', phone: '8 912 345-67-89' });
    expect(member.phone).toBe('+79123456789');
    expect((await h.services.members.get(ru.server, { phone: '+7 (912) 345-67-89' })).id).toBe(member.id);
    expect((await h.services.members.get(ru.server, { phone: '89123456789' })).id).toBe(member.id);
  });

  it('numbers with a country code read the same in every region', async () => {
    const de = await shop('DE');
    const { member } = await h.services.members.upsert(de.server, { externalId: 'anna', phone: '+7 912 345-67-89' });
    expect(member.phone).toBe('+79123456789');
    const { member: local } = await h.services.members.upsert(de.server, { externalId: 'jan', phone: '030 1234567' });
    expect(local.phone).toBe('+49301234567');
  });

  it('a number that cannot be read for the region is BAD_USER_INPUT naming phone, and nothing is written', async () => {
    const us = await shop('US');
    const members = () => h.count('select count(*) from member where program_id = ?', [us.programId]);
    for (const phone of ['8 912 345-67-89', 'call me', '12']) {
      await expect(codeOf(h.services.members.upsert(us.server, { externalId: `x-${++seq}`, phone }))).resolves.toBe('BAD_USER_INPUT:phone');
      await expect(codeOf(h.services.members.find(us.server, { phone }))).resolves.toBe('BAD_USER_INPUT:phone');
    }
    expect(await members()).toBe(0);
  });

  it('without a program region, a national number is refused rather than read as Russian', async () => {
    const { memberRefColumn, normalizePhone } = await import('../../src/services/members');
    expect(() => memberRefColumn({ phone: '(415) 555-2671' })).toThrow(/country code/);
    expect(memberRefColumn({ phone: '(415) 555-2671' }, 'US')).toEqual(['phone', '+14155552671']);
    expect(memberRefColumn({ phone: '+1 415 555 2671' })).toEqual(['phone', '+14155552671']);
    expect(normalizePhone('8 912 345-67-89', 'RU')).toBe('+79123456789');
  });
});
