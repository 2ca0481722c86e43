import {
  CODE_ALPHABET, ReferralRefusal, fileHasToken, generateCode, isPrivateAddress, linkTemplateProblem, mailboxKey, normalizeCode,
  referralLink, referringHost, refusalOf, siteOrigin, type AttributionFacts,
} from '../../src/services/referrals/logic';

describe('referral codes', () => {
  it('are 8 characters of an alphabet without 0, O, 1, I', () => {
    expect(CODE_ALPHABET).toHaveLength(32);
    for (const ch of '0O1I') expect(CODE_ALPHABET).not.toContain(ch);
    for (let i = 0; i < 200; i++) expect(generateCode()).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
  });

  it('use every byte value evenly (byte % 32)', () => {
    expect(generateCode(() => Uint8Array.from([0, 31, 32, 63, 255, 224, 1, 2]))).toBe('2Z2ZZ2' + CODE_ALPHABET[1] + CODE_ALPHABET[2]);
    expect(generateCode(() => new Uint8Array(8).fill(255))).toBe('ZZZZZZZZ');
  });

  it('are read as typed: case, spaces and dashes do not matter; impossible ones are null', () => {
    expect(normalizeCode(' abcd-efgh ')).toBe('ABCDEFGH');
    expect(normalizeCode('ABCD EF2H')).toBe('ABCDEF2H');
    expect(normalizeCode('ABCDEFG0')).toBeNull();
    expect(normalizeCode('ABCDEFGI')).toBeNull();
    expect(normalizeCode('ABC')).toBeNull();
  });
});

describe('referral links', () => {
  it('fill {code} in the template', () => {
    expect(referralLink('https://shop.example/?ref={code}', 'AB23CD45')).toBe('https://shop.example/?ref=AB23CD45');
    expect(referralLink('https://x.example/r/{code}?again={code}', 'AB23CD45')).toBe('https://x.example/r/AB23CD45?again=AB23CD45');
  });

  it('templates must be http(s) URLs with {code}', () => {
    expect(linkTemplateProblem('https://shop.example/?ref={code}')).toBeNull();
    expect(linkTemplateProblem('https://shop.example/')).toMatch(/\{code\}/);
    expect(linkTemplateProblem('javascript:alert({code})')).toMatch(/http/);
    expect(linkTemplateProblem('not a url {code}')).toMatch(/URL/);
  });
});

describe('mailboxKey (self-referral by e-mail)', () => {
  it.each([
    ['Anna.Petrova+promo@Gmail.com', 'annapetrova@gmail.com'],
    ['a.n.n.a@googlemail.com', 'anna@gmail.com'],
    ['anna+x@yandex.ru', 'anna@yandex.ru'],
    ['an.na@yandex.ru', 'an.na@yandex.ru'],
    ['  ANNA@EXAMPLE.COM ', 'anna@example.com'],
  ])('%s → %s', (email, key) => expect(mailboxKey(email)).toBe(key));
});

describe('refusalOf', () => {
  const facts = (over: Partial<AttributionFacts> = {}): AttributionFacts => ({
    memberId: 'm',
    referrerId: 'r',
    member: { email: 'boris@example.com', phone: '+79120000001', signals: [] },
    referrer: { email: 'anna@example.com', phone: '+79120000002', signals: [] },
    currentReferrerId: null,
    hasPaidOrder: false,
    referrerIsInNetwork: false,
    referrerLevel: 0,
    networkHeight: 0,
    maxDepth: 10,
    ...over,
  });

  it('accepts a valid attribution', () => expect(refusalOf(facts())).toBeNull());

  it('names each reason', () => {
    expect(refusalOf(facts({ referrerId: 'm' }))).toBe(ReferralRefusal.SELF_REFERRAL);
    expect(refusalOf(facts({ currentReferrerId: 'x' }))).toBe(ReferralRefusal.ALREADY_REFERRED);
    expect(refusalOf(facts({ hasPaidOrder: true }))).toBe(ReferralRefusal.AFTER_FIRST_ORDER);
    expect(refusalOf(facts({ referrer: { email: 'Bo.ris+ref@example.com', phone: null, signals: [] } }))).toBeNull();
    expect(refusalOf(facts({ member: { email: 'bo.ris+1@gmail.com', phone: null, signals: [] }, referrer: { email: 'BORIS@googlemail.com', phone: null, signals: [] } })))
      .toBe(ReferralRefusal.SAME_EMAIL);
    expect(refusalOf(facts({ referrer: { email: null, phone: '+79120000001', signals: [] } }))).toBe(ReferralRefusal.SAME_PHONE);
    const device = [{ kind: 'device' as const, hash: 'dev-hash-1' }];
    const ip = [{ kind: 'ip' as const, hash: 'ip-hash-01' }];
    expect(refusalOf(facts({ member: { email: null, phone: null, signals: device }, referrer: { email: null, phone: null, signals: device } })))
      .toBe(ReferralRefusal.SAME_DEVICE);
    expect(refusalOf(facts({ member: { email: null, phone: null, signals: ip }, referrer: { email: null, phone: null, signals: ip } })))
      .toBe(ReferralRefusal.SAME_IP);
    expect(refusalOf(facts({ member: { email: null, phone: null, signals: device }, referrer: { email: null, phone: null, signals: ip } }))).toBeNull();
    expect(refusalOf(facts({ referrerIsInNetwork: true }))).toBe(ReferralRefusal.CYCLE);
  });

  it('counts the member\'s own network in the depth', () => {
    expect(refusalOf(facts({ referrerLevel: 9 }))).toBeNull(); // the member lands at level 10
    expect(refusalOf(facts({ referrerLevel: 10 }))).toBe(ReferralRefusal.TOO_DEEP);
    expect(refusalOf(facts({ referrerLevel: 5, networkHeight: 4 }))).toBeNull();
    expect(refusalOf(facts({ referrerLevel: 5, networkHeight: 5 }))).toBe(ReferralRefusal.TOO_DEEP);
    expect(refusalOf(facts({ referrerLevel: 1, maxDepth: 2 }))).toBeNull();
    expect(refusalOf(facts({ referrerLevel: 2, maxDepth: 2 }))).toBe(ReferralRefusal.TOO_DEEP);
  });
});

describe('referrer websites', () => {
  it('a declared site is its origin; the host is matched against referring URLs', () => {
    expect(siteOrigin('Blog.Example.com/some/page?x=1')).toEqual({ origin: 'https://blog.example.com', host: 'blog.example.com' });
    expect(siteOrigin('http://127.0.0.1:8080/')).toEqual({ origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' });
    expect(() => siteOrigin('ftp://blog.example.com')).toThrow(/http/);
    expect(() => siteOrigin('https://user:pw@blog.example.com')).toThrow(/credentials/);
    expect(referringHost('https://BLOG.example.com/post/1?utm=x')).toBe('blog.example.com');
    expect(referringHost('javascript:alert(1)')).toBeNull();
    expect(referringHost('not a url')).toBeNull();
  });

  it('the verification file proves the site when a line is the token', () => {
    expect(fileHasToken('# patron\r\npatron-site-verification=abc\n', 'patron-site-verification=abc')).toBe(true);
    expect(fileHasToken('patron-site-verification=abcd', 'patron-site-verification=abc')).toBe(false);
  });

  it.each([
    ['127.0.0.1', true], ['10.1.2.3', true], ['172.16.0.1', true], ['172.32.0.1', false], ['192.168.1.1', true],
    ['169.254.169.254', true], ['100.64.0.1', true], ['0.0.0.0', true], ['224.0.0.1', true], ['8.8.8.8', false],
    ['::1', true], ['::', true], ['fd00::1', true], ['fe80::1', true], ['::ffff:127.0.0.1', true], ['2a00:1450::1', false],
  ])('%s private: %s', (address, expected) => expect(isPrivateAddress(address)).toBe(expected));
});
