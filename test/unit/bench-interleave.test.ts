import { interleave, roundOrder, type Contestant } from '../../bench/interleave';
import { Exhausted, type MeasureOptions } from '../../bench/load';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const options: MeasureOptions = { warmupMs: 50, durationMs: 200, maxOps: 100_000 };

/** A row whose operation takes `ms` and notes which row ran, in order of completion. */
function row(name: string, ms: number, ran: string[], limit = Infinity): Contestant & { closed: () => boolean } {
  let closed = false;
  let done = 0;
  return {
    row: name,
    label: { name, op: name, accounts: '-' },
    clients: 1,
    closed: () => closed,
    open: async () => ({
      operation: async () => {
        if (done >= limit) throw new Exhausted(`${name} ran out`);
        await sleep(ms);
        done++;
        if (ran[ran.length - 1] !== name) ran.push(name);
      },
      close: () => void (closed = true),
    }),
  };
}

describe('rows measured in turns (bench/interleave.ts)', () => {
  it('gives every row one slice per round, in the rounds\' balanced order, settling after each slice', async () => {
    const ran: string[] = [];
    const rows = [row('a', 2, ran), row('b', 2, ran), row('c', 2, ran)];
    let settled = 0;
    const measured = await interleave(rows, options, 4, async () => void settled++);
    // Runs of one row, in the order the slices ran (warm-ups included): rounds a b c, b c a, c a b, c b a.
    expect(ran).toEqual(['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b', 'c', 'b', 'a']);
    expect({ rounds: measured.rounds, settled }).toEqual({ rounds: 4, settled: 12 });
    for (const m of measured.rows) {
      // Four windows of 50 ms each: the window time is theirs summed, and ops/s is over it.
      expect(m.seconds).toBeGreaterThanOrEqual(0.19);
      expect(m.ops).toBeGreaterThan(0);
      expect(Math.abs(m.opsPerSec - m.ops / m.seconds) / m.opsPerSec).toBeLessThan(0.05);
      expect(m.p50Ms).toBeGreaterThanOrEqual(2);
    }
    expect(rows.every((r) => r.closed())).toBe(true);
  });

  it.each([2, 3, 4, 5])('orders %i rows so that each follows every other equally often (n rounds, 2n when n is odd)', (n) => {
    const rounds = n % 2 === 0 ? n : 2 * n;
    const follows = new Map<string, number>();
    for (let r = 0; r < rounds; r++) {
      const order = roundOrder(r, n);
      expect([...order].sort()).toEqual([...Array(n).keys()]);
      for (let k = 1; k < n; k++) follows.set(`${order[k - 1]}>${order[k]}`, (follows.get(`${order[k - 1]}>${order[k]}`) ?? 0) + 1);
    }
    expect(follows.size).toBe(n * (n - 1));
    expect(new Set(follows.values()).size).toBe(1);
  });

  it('stops the group after the round in which a row ran out of work: its rows keep the same minutes', async () => {
    const ran: string[] = [];
    const rows = [row('a', 2, ran, 5), row('b', 2, ran)];
    const measured = await interleave(rows, options, 3);
    const [a, b] = measured.rows;
    expect(measured.rounds).toBe(1);
    expect(a!.firstError).toBe('a ran out');
    expect(a!.ops).toBeLessThanOrEqual(5);
    // b had its slice of that round (a third of the window), and no more.
    expect(b!.seconds).toBeGreaterThanOrEqual(0.06);
    expect(b!.seconds).toBeLessThan(0.13);
    expect(ran).toEqual(['a', 'b']);
    expect(rows.every((r) => r.closed())).toBe(true);
  });

  it('closes what it opened when opening a row fails', async () => {
    const ran: string[] = [];
    const good = row('a', 2, ran);
    const bad: Contestant = { ...row('b', 2, ran), open: () => Promise.reject(new Error('no connection')) };
    await expect(interleave([good, bad], options, 2)).rejects.toThrow('no connection');
    expect(good.closed()).toBe(true);
    expect(ran).toEqual([]);
  });
});
