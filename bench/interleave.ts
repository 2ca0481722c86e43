/**
 * Rows measured in turns. A ratio divides two rows; measured one after the other, minutes apart,
 * the machine's drift lands in the ratio (on a shared 2-core VM the raw accrual moved by half
 * within an hour, and the same code's ratio between 0.58 and 0.77 from run to run). Measured in
 * turns — every row's window cut into slices, each round giving every row one slice — both sides
 * of a ratio see the same minutes. Round r takes the rows rotated by r, reversed in odd rounds, so
 * no row always follows the same one (what a row leaves behind — the outbox relay,
 * dirty pages — falls mostly in the next slice's warm-up, and not always on the same row).
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
 * Measures the contestants in `rounds` rounds: each slice has 1/rounds of the options' warm-up
 * and window. A contestant that runs out of work (`Exhausted`) sits the remaining rounds out.
 */
export async function interleave(contestants: Contestant[], opts: MeasureOptions, rounds: number): Promise<Measurement[]> {
  const opened: Opened[] = [];
  try {
    for (const c of contestants) opened.push(await c.open());
    const slices: Slice[][] = contestants.map(() => []);
    const sliceOptions = { ...opts, warmupMs: opts.warmupMs / rounds, durationMs: opts.durationMs / rounds };
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < contestants.length; k++) {
        const n = contestants.length;
        const i = round % 2 === 0 ? (round + k) % n : (round + n - 1 - k) % n;
        const c = contestants[i]!;
        if (slices[i]!.some((s) => s.exhausted)) continue;
        slices[i]!.push(await runSlice(c.clients, opened[i]!.operation, { ...sliceOptions, meter: c.meter ?? opts.meter }));
      }
    }
    return contestants.map((c, i) => toMeasurement(c.label, c.clients, slices[i]!));
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
