/**
 * The input policy's cost per call on typical arguments (it runs on every argument of every
 * request): `node -r @swc-node/register bench/input-policy-micro.ts`. Compare a change by
 * running this before and after it, back to back: the machine's noise is larger than the work.
 */
import { checkArguments } from '../src/graphql/input-policy';

const accrue = (i: number) => ({
  input: { member: { id: '3f1c2a4e-8b7d-4c1e-9a2b-5d6e7f8a9b0c' }, points: 100 + (i % 7), reason: 'Order #10452 bonus', delayDays: 0, idempotencyKey: `accrue-${i}-7f3a9c` },
});
const order = (i: number) => ({
  input: { orderId: `o-${i}`, member: { externalId: 'customer-42' }, idempotencyKey: `k-${i}`, channel: 'web',
    lines: Array.from({ length: 5 }, (_, j) => ({ sku: `SKU-${j}`, unitPriceMinor: 1999, quantity: 2, discountMinor: 0, category: 'shoes' })) },
});
const N = 100_000;
function run(name: string, make: (i: number) => Record<string, unknown>) {
  const inputs = Array.from({ length: N }, (_, i) => make(i));
  for (let r = 0; r < 3; r++) for (const a of inputs.slice(0, 20_000)) checkArguments(a); // warm up
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (const a of inputs) checkArguments(a);
    times.push(Number(process.hrtime.bigint() - t0) / N);
  }
  times.sort((a, b) => a - b);
  console.log(`${name}: median ${times[3].toFixed(0)} ns/call, min ${times[0].toFixed(0)} ns/call over ${N} calls ×7`);
}
run('accrue variables', accrue);
run('placeOrder, 5 lines', order);
