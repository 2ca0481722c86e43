/**
 * Rows measured in turns. A ratio divides two rows; measured one after the other, minutes apart,
 * the machine's drift lands in the ratio (on a shared 2-core VM the raw accrual moved by half
 * within an hour, and the same code's ratio between 0.58 and 0.77 from run to run). Measured in
 * turns — every row's window cut into slices, each round giving every row one slice — both sides
 * of a ratio see the same minutes. The rounds follow a balanced order (roundOrder), so no row
 * always follows the same one: what a row leaves behind that the settling between slices does not
 * wait for (dirty pages, autovacuum) falls on each of the others alike.
 */
import type { CpuMeter } from './cpu';
import { GraphQLClient, runSlice, toMeasurement, type Measurement, type MeasureOptions, type Operation, type Slice } from './load';

export interface Contestant {
  /** The row's name as BENCH_ONLY selects it ("accrue uniform 8"). */
  row: string;
  label: { name: string; op: string; accounts: string };
  clients: number;
  /** Sets up what the operation needs (connections, a client, a template): once for all rounds. */
  open(): Promise<Opened>;
  /** Whose CPU the row counts, when not the options' meter (a baseline server of its own). */
  meter?: CpuMeter;
}

export interface Opened {
  operation: Operation;
  close(): Promise<void> | void;
}

/**
 * The order of round `round` over `n` rows: row `round` of a Williams design (0, 1, n-1, 2, n-2 …
 * shifted by the round, mirrored in every other block of n rounds when n is odd), so that over n
 * rounds (2n when n is odd) each row follows every other one equally often.
 */
export function roundOrder(round: number, n: number): number[] {
  const first = [0];
  for (let k = 1; first.length < n; k++) {
    first.push(k);
    if (first.length < n) first.push(n - k);
  }
  const row = first.map((x) => (x + round) % n);
  return n % 2 === 1 && Math.floor(round / n) % 2 === 1 ? row.reverse() : row;
}

/**
 * Measures the contestants in `rounds` rounds: each slice has 1/rounds of the options' warm-up
 * and window, and `settle` runs after each slice, outside every window (what the slice left
 * behind — outbox events to publish — is not counted in the next one). When a contestant runs out
 * of work (`Exhausted`), the group stops after that round: its rows keep seeing the same minutes.
 */
export async function interleave(contestants: Contestant[], opts: MeasureOptions, rounds: number, settle?: () => Promise<void>): Promise<{ rows: Measurement[]; rounds: number }> {
  const opened: Opened[] = [];
  try {
    for (const c of contestants) opened.push(await c.open());
    const slices: Slice[][] = contestants.map(() => []);
    const sliceOptions = { ...opts, warmupMs: opts.warmupMs / rounds, durationMs: opts.durationMs / rounds };
    let round = 0;
    while (round < rounds && !slices.some((s) => s.some((slice) => slice.exhausted))) {
      for (const i of roundOrder(round, contestants.length)) {
        const c = contestants[i]!;
        slices[i]!.push(await runSlice(c.clients, opened[i]!.operation, { ...sliceOptions, meter: c.meter ?? opts.meter }));
        await settle?.();
      }
      round++;
    }
    return { rows: contestants.map((c, i) => toMeasurement(c.label, c.clients, slices[i]!)), rounds: round };
  } finally {
    for (const o of opened) await o.close();
  }
}

/** A row of GraphQL requests on a keep-alive client of its own (`clients` sockets). */
export function overGraphQL(
  row: string,
  label: Contestant['label'],
  clients: number,
  target: { url: string; apiKey: string; meter?: CpuMeter },
  request: (client: GraphQLClient) => Promise<unknown>,
): Contestant {
  return {
    row,
    label,
    clients,
    meter: target.meter,
    open: async () => {
      const client = new GraphQLClient(target.url, target.apiKey, clients);
      return { operation: async () => void (await request(client)), close: () => client.close() };
    },
  };
}
