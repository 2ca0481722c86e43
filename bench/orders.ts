/**
 * The order rows: payOrder of pre-placed 3-line orders (placement is set-up, not measured) against
 * 10 ACTIVE order_paid rules created over the API, 5 of which match; payOrder again with a tier
 * structure on, in the twin program (bench/twin.ts: the same rules, members and kind of orders);
 * the same rows a paid order writes, written with raw SQL (bench/raw-pay-order.ts); all of them in
 * turns with the raw accrual. Then simulateEvent of the same event (latency, 1 client). Before the
 * rows a batch of orders is paid in each program, not recorded, to compile their paths. A row that
 * runs out of pre-placed orders ends there (`Exhausted`), it does not spin.
 */
import type { TwinProgram } from './twin';
import { overGraphQL, type Contestant } from './interleave';
import { Exhausted, GraphQLClient, measure, type Measurement, type MeasureOptions } from './load';
import { rawPayOrder } from './raw-pay-order';

export interface OrderRowsContext {
  url: string;
  databaseUrl: string;
  programId: string;
  adminKey: string;
  serverKey: string;
  memberIds: string[];
  simulateMemberId: string;
  /** The accrual row's rate, to place enough orders for warm-up + window. */
  accrueRate: number | undefined;
  seconds: number;
  warmupSeconds: number;
  runId: string;
  measureOptions: MeasureOptions;
  log: (msg: string) => void;
  run: (name: string, m: () => Promise<Measurement>) => Promise<void>;
  runInTurns: (contestants: Contestant[]) => Promise<void>;
  /** The raw accrual again, measured in turns with payOrder: the payOrder ratios divide by it. */
  baselineBeside: Contestant;
  want: (name: string) => boolean;
  /** The program carrying the tier structure, when a tier row runs. */
  twin: TwinProgram | null;
  seedTiers: () => Promise<void>;
  setUpTiers: () => Promise<void>;
  /** Vacuums what placing and paying orders wrote, before each measured order row. */
  settleOrders: () => Promise<void>;
}

const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;

const CREATE_RULE = `mutation CreateRule($input: CreateRuleInput!) { createRule(input: $input) { id } }`;
const PLACE_ORDER = `mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { order { status } } }`;
const PAY_ORDER = `mutation PayOrder($input: PayOrderInput!) {
  payOrder(input: $input) { order { status } account { available pending } }
}`;
const SIMULATE = `query Simulate($input: SimulateEventInput!) {
  simulateEvent(input: $input) { memberPoints referrerPoints rules { rule { name } matched reason { code message } awards { points } } }
}`;

/** The benchmark order: 3 lines, total 2 300.00, paid by card online through the web. */
const ORDER_LINES = [
  { sku: 'RUN-SHOES', category: 'shoes', unitPriceMinor: 120_000, quantity: 1 },
  { sku: 'SOCKS', category: 'apparel', unitPriceMinor: 30_000, quantity: 2 },
  { sku: 'BOTTLE', category: 'accessories', unitPriceMinor: 50_000, quantity: 1 },
];
const ORDER_TOTAL = ORDER_LINES.reduce((sum, l) => sum + l.unitPriceMinor * l.quantity, 0);
const ORDER_CHANNEL = 'web';
const ORDER_PAYMENT = 'card_online';
/** Orders paid before the order rows to compile their code path (not measured). */
const WARM_UP_ORDERS = 2_000;

/**
 * 10 ACTIVE order_paid rules: the first 5 match the benchmark order, the last 5 do not (another
 * category / payment method / channel, a tag the seeded members lack, an hour window that
 * excludes now and the next 6 hours in the program time zone).
 */
function benchRules(timeZone: string) {
  const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
  const from = (hour + 6) % 24;
  const to = (hour + 9) % 24;
  const fixed = (points: number) => [{ code: 'fixedPoints', args: { points } }];
  return [
    { name: 'bench: 5 % back', definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] } },
    { name: 'bench: big order', definition: { trigger: 'order_paid', condition: { condition: 'orderTotal', args: { min: 100_000 } }, actions: fixed(100) } },
    { name: 'bench: shoes', definition: { trigger: 'order_paid', condition: { condition: 'orderHasLine', args: { categories: ['shoes'] } }, actions: fixed(50) } },
    { name: 'bench: card online', definition: { trigger: 'order_paid', condition: { condition: 'paymentMethod', args: { methods: [ORDER_PAYMENT] } }, actions: fixed(20) } },
    { name: 'bench: web', definition: { trigger: 'order_paid', condition: { condition: 'channel', args: { channels: [ORDER_CHANNEL] } }, actions: fixed(10) } },
    { name: 'bench: bikes (no match)', definition: { trigger: 'order_paid', condition: { condition: 'orderHasLine', args: { categories: ['bikes'] } }, actions: fixed(500) } },
    { name: 'bench: cash (no match)', definition: { trigger: 'order_paid', condition: { condition: 'paymentMethod', args: { methods: ['cash'] } }, actions: fixed(500) } },
    { name: 'bench: pos (no match)', definition: { trigger: 'order_paid', condition: { condition: 'channel', args: { channels: ['pos'] } }, actions: fixed(500) } },
    { name: 'bench: vip (no match)', definition: { trigger: 'order_paid', condition: { condition: 'memberTags', args: { tags: ['vip'] } }, actions: fixed(500) } },
    { name: `bench: hours ${from}-${to} (no match)`, definition: { trigger: 'order_paid', condition: { condition: 'hourOfDay', args: { from, to } }, actions: fixed(500) } },
  ];
}

/** Creates the bench rules in the program the admin key belongs to. */
async function createBenchRules(admin: GraphQLClient, log: (msg: string) => void, which: string): Promise<void> {
  const { program: settings } = await admin.request<{ program: { timeZone: string } }>('{ program { timeZone } }');
  const rules = benchRules(settings.timeZone);
  for (const rule of rules) await admin.request(CREATE_RULE, { input: { ...rule, status: 'ACTIVE' } });
  log(`created ${rules.length} ACTIVE order_paid rules in ${which} (time zone ${settings.timeZone})`);
}

export async function orderRows(ctx: OrderRowsContext): Promise<void> {
  const admin = new GraphQLClient(ctx.url, ctx.adminKey, 1);
  await createBenchRules(admin, ctx.log, 'the program');
  const twin = ctx.want('payOrder tiers 8') ? ctx.twin : null;
  if (twin) {
    const twinAdmin = new GraphQLClient(ctx.url, twin.adminKey, 1);
    await createBenchRules(twinAdmin, ctx.log, 'its twin');
    twinAdmin.close();
  }
  const simulateInput = {
    type: 'order_paid',
    member: { id: ctx.simulateMemberId },
    order: {
      totalMinor: ORDER_TOTAL,
      channel: ORDER_CHANNEL,
      paymentMethod: ORDER_PAYMENT,
      lines: ORDER_LINES.map((l) => ({ ...l, eligibleMoneyMinor: l.unitPriceMinor * l.quantity })),
    },
  };
  const { simulateEvent: sim } = await admin.request<{ simulateEvent: { memberPoints: number; rules: Array<{ rule: { name: string }; matched: boolean; reason: { message: string } | null }> } }>(
    SIMULATE,
    { input: simulateInput },
  );
  const benchSim = sim.rules.filter((r) => r.rule.name.startsWith('bench: '));
  const matched = benchSim.filter((r) => r.matched);
  ctx.log(`simulateEvent check: ${matched.length} of ${benchSim.length} rules match (${sim.memberPoints} points): ${matched.map((r) => r.rule.name).join(', ')}`);
  for (const r of benchSim.filter((r) => !r.matched)) ctx.log(`  no match: ${r.rule.name} — ${r.reason?.message}`);
  if (matched.length !== 5) ctx.log(`  ! expected exactly 5 matching rules, got ${matched.length}`);
  console.log(`simulateEvent check before measuring: ${matched.length} of ${benchSim.length} order_paid rules match (expected 5), ${sim.memberPoints} points`);

  // Enough pre-placed orders for warm-up + window: 1.5 × the accrual rate, at least 2 000.
  // Both batches (tiers off, tiers on) are placed before either is paid: the same orders.
  const accrueRate = ctx.accrueRate;
  const count = accrueRate ? Math.max(2_000, Math.ceil(accrueRate * (ctx.seconds + ctx.warmupSeconds) * 1.5)) : 3_000;
  const main = { serverKey: ctx.serverKey, memberIds: ctx.memberIds };
  const placeOrders = async (batch: string, howMany: number, program = main): Promise<string[]> => {
    const placer = new GraphQLClient(ctx.url, program.serverKey, 16);
    const orderIds: string[] = [];
    const t1 = Date.now();
    let next = 0;
    let placeErrors = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < howMany) {
          const orderId = `bench-${ctx.runId}-${batch}-order-${next++}`;
          try {
            await placer.request(PLACE_ORDER, {
              input: {
                orderId,
                member: { id: pick(program.memberIds) },
                lines: ORDER_LINES,
                points: 0,
                channel: ORDER_CHANNEL,
                paymentMethod: ORDER_PAYMENT,
                idempotencyKey: `bench-${ctx.runId}-place-${orderId}`,
              },
            });
            orderIds.push(orderId);
          } catch (error) {
            if (placeErrors++ === 0) ctx.log(`  ! placeOrder failed: ${(error as Error).message}`);
          }
        }
      }),
    );
    placer.close();
    ctx.log(`placed ${orderIds.length} orders (3 lines each, ${batch}) in ${((Date.now() - t1) / 1000).toFixed(1)} s, ${placeErrors} errors (setup, not measured)`);
    return orderIds;
  };
  // The server warm-up sends no orders: their code path (the general transaction, the rules, the
  // order's records) would still be compiling during the measured window, a seventh of the
  // server's CPU there (perf). Paying a batch first, not recorded, measures it compiled.
  const warmUp = async (orderIds: string[], serverKey = ctx.serverKey): Promise<void> => {
    if (orderIds.length === 0) return;
    const client = new GraphQLClient(ctx.url, serverKey, 8);
    const t1 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let orderId = orderIds[next++]; orderId; orderId = orderIds[next++]) {
          await client.request(PAY_ORDER, { input: { orderId, idempotencyKey: `bench-${ctx.runId}-pay-${orderId}` } }).catch(() => undefined);
        }
      }),
    );
    client.close();
    ctx.log(`warmed payOrder up: paid ${orderIds.length} orders in ${((Date.now() - t1) / 1000).toFixed(1)} s (not measured)`);
  };
  const payOrders = (row: string, name: string, op: string, orderIds: string[], serverKey = ctx.serverKey): Contestant => {
    let taken = 0;
    const paying = overGraphQL(row, { name, op, accounts: 'uniform' }, 8, { url: ctx.url, apiKey: serverKey }, (client) => {
      const orderId = orderIds[taken++];
      if (!orderId) throw new Exhausted('ran out of pre-placed orders');
      return client.request(PAY_ORDER, { input: { orderId, idempotencyKey: `bench-${ctx.runId}-pay-${orderId}` } });
    });
    return {
      ...paying,
      open: async () => {
        const opened = await paying.open();
        return {
          ...opened,
          close: () => {
            ctx.log(`  ${row}: paid ${Math.min(taken, orderIds.length)} of ${orderIds.length} pre-placed orders (warm-ups + windows)`);
            return opened.close();
          },
        };
      },
    };
  };
  // The past orders exist in both programs: with tiers off and on only the structure differs.
  if (twin) await ctx.seedTiers();
  const withoutTiers = ctx.want('payOrder 8') ? await placeOrders('plain', count) : [];
  const withTiers = twin ? await placeOrders('tiers', count, twin) : [];
  // The raw row pays about 1.5 times as fast as payOrder: it gets more orders, so it is not cut short.
  const forRawSql = ctx.want('payOrder raw 8') ? await placeOrders('raw', Math.ceil(count * 1.6)) : [];
  // A warm-up batch for each row: the tiers row runs code of its own (the member's tier, the
  // structure's evaluation) that the first batch, paid before the structure exists, never reaches.
  // The raw row copies the order Patron paid last (of this batch, or of the payOrder row after it).
  const warmUpPlain = ctx.want('payOrder 8') || ctx.want('payOrder raw 8') ? await placeOrders('warm-up', WARM_UP_ORDERS) : [];
  const warmUpTiers = twin ? await placeOrders('warm-up-tiers', WARM_UP_ORDERS, twin) : [];

  // The rows start on vacuumed tables: what placing and the warm-ups wrote stays out of their
  // windows. payOrder without tiers and with them, its rows written raw and the raw accrual are
  // measured in turns.
  if (twin) await ctx.setUpTiers();
  await warmUp(warmUpPlain);
  if (twin) await warmUp(warmUpTiers, twin.serverKey);
  if (['payOrder 8', 'payOrder raw 8', 'baseline beside orders 8', 'payOrder tiers 8'].some(ctx.want)) await ctx.settleOrders();
  await ctx.runInTurns([
    payOrders('payOrder 8', 'payOrder (GraphQL) 10 rules, 5 match', 'payOrder', withoutTiers),
    rawPayOrder('payOrder raw 8', ctx.databaseUrl, ctx.programId, forRawSql, ctx.runId, ctx.log),
    ctx.baselineBeside,
    ...(twin ? [payOrders('payOrder tiers 8', 'payOrder (GraphQL) 10 rules, 3 tiers (twin program)', 'payOrderTiers', withTiers, twin.serverKey)] : []),
  ]);
  await ctx.run('simulateEvent 1', () =>
    measure({ name: 'simulateEvent order_paid, 10 rules', op: 'simulate', accounts: '-' }, 1, async () => {
      await admin.request(SIMULATE, { input: simulateInput });
    }, ctx.measureOptions),
  );
  admin.close();
}
