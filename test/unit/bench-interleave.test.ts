import { interleave, type Contestant } from '../../bench/interleave';
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
  it('gives every row one slice per round: round r takes the rows rotated by r, reversed in odd rounds', async () => {
    const ran: string[] = [];
    const rows = [row('a', 2, ran), row('b', 2, ran), row('c', 2, ran)];
    const measured = await interleave(rows, options, 4);
    // Runs of one row, in the order the slices ran (warm-ups included).
    expect(ran).toEqual(['a', 'b', 'c', 'a', 'c', 'b', 'c', 'a', 'b', 'c', 'b', 'a']);
    for (const m of measured) {
      // Four windows of 50 ms each: the window time is theirs summed, and ops/s is over it.
      expect(m.seconds).toBeGreaterThanOrEqual(0.19);
      expect(m.seconds).toBeLessThan(0.4);
      expect(m.ops).toBeGreaterThan(20);
      expect(Math.abs(m.opsPerSec - m.ops / m.seconds) / m.opsPerSec).toBeLessThan(0.05);
      expect(m.p50Ms).toBeGreaterThanOrEqual(2);
    }
    expect(rows.every((r) => r.closed())).toBe(true);
  });

  it('lets a row that ran out of work sit the remaining rounds out, the others going on', async () => {
    const ran: string[] = [];
    const rows = [row('a', 2, ran, 5), row('b', 2, ran)];
    const [a, b] = await interleave(rows, options, 3);
    expect(a!.firstError).toBe('a ran out');
    expect(a!.ops).toBeLessThanOrEqual(5);
    expect(ran.filter((r) => r === 'a')).toHaveLength(1);
    expect(b!.seconds).toBeGreaterThanOrEqual(0.19);
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
