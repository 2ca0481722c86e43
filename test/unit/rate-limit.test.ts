import { WindowCounters } from '../../src/http/rate-limit';

/** The counters behind RateLimits: fixed windows per key, opened by a key's first hit. */
describe('WindowCounters', () => {
  test('counts hits within a window; a hit after it ends opens a new one', () => {
    const counters = new WindowCounters(1000);
    expect(counters.peek('a', 0)).toBeNull();
    expect(counters.hit('a', 0)).toEqual({ count: 1, msLeft: 1000 });
    expect(counters.hit('a', 400)).toEqual({ count: 2, msLeft: 600 });
    expect(counters.peek('a', 999)).toEqual({ count: 2, msLeft: 1 });
    expect(counters.peek('b', 999)).toBeNull();
    expect(counters.peek('a', 1000)).toBeNull();
    expect(counters.hit('a', 1000)).toEqual({ count: 1, msLeft: 1000 });
  });

  test('ended windows are dropped, so keys that stop coming do not stay in memory', () => {
    const counters = new WindowCounters(1000);
    for (let i = 0; i < 100; i++) counters.hit(`address-${i}`, 10);
    expect(counters.size).toBe(100);
    counters.hit('late', 1500);
    expect(counters.size).toBe(1);
    expect(counters.peek('late', 1500)).toEqual({ count: 1, msLeft: 1000 });
  });
});
