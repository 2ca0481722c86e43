/**
 * Loads the worked example of seed 000 — a sports-goods shop — into a running Patron, through
 * its GraphQL API only:
 *
 *   PATRON_ADMIN_KEY=… npm run seed:demo
 *
 * - settings: 1 point = 1 ruble, at most 20 % of an order in points, Moscow time;
 * - rules: registration +500; birthday +1 000 burning after 3 days; a referred customer's paid
 *   order of 1 000 or more gives the referrer 50; every paid order earns 5 %, valid 30 days;
 * - members Anna, Boris (referred by Anna) and Vera, and a few orders, one paid partly in points.
 *
 * Idempotent: members are keyed by their externalId, orders by their order id, every write
 * carries a fixed idempotency key, rules are looked up by name, and settings are written only
 * when they differ. A second run reports that it changed nothing.
 *
 * Environment: PATRON_ADMIN_KEY (required: the operator's key the server was started with),
 * PATRON_URL (default http://localhost:${PORT ?? 4000}/graphql).
 */

const url = process.env.PATRON_URL ?? `http://localhost:${process.env.PORT ?? 4000}/graphql`;
const adminKey = process.env.PATRON_ADMIN_KEY;

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

class SeedError extends Error {}

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new SeedError(`Cannot reach Patron at ${url} (${cause?.code ?? cause?.message ?? String(error)}). Is the server running? Start it with \`npm start\`, or set PATRON_URL.`);
  }
  const text = await res.text();
  let body: { data?: T; errors?: GraphQLError[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new SeedError(`${url} answered HTTP ${res.status} with something that is not GraphQL: ${text.slice(0, 200)}`);
  }
  if (body.errors?.length) {
    const codes = body.errors.map((e) => e.extensions?.code);
    if (codes.includes('UNAUTHENTICATED')) throw new SeedError('PATRON_ADMIN_KEY was refused: use the operator key the server was started with (or printed on its first start).');
    if (codes.includes('FORBIDDEN')) throw new SeedError('PATRON_ADMIN_KEY is not an admin key of the program.');
    throw new SeedError(body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('\n'));
  }
  if (!body.data) throw new SeedError(`${url} answered HTTP ${res.status} without data`);
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// The shop

const SETTINGS = {
  name: 'Sports shop',
  currency: 'RUB',
  pointValueMinor: 100,
  maxRedeemPercent: 20,
  timeZone: 'Europe/Moscow',
  pendingDays: 0,
  birthdayDaysBefore: 0,
  earnOnPointsPaidPart: false,
} as const;

const RULES = [
  {
    name: 'Welcome bonus',
    definition: { trigger: 'registration', oncePerMember: true, actions: [{ code: 'fixedPoints', args: { points: 500 } }] },
  },
  {
    name: 'Birthday gift',
    definition: { trigger: 'birthday', lifetimeDays: 3, actions: [{ code: 'fixedPoints', args: { points: 1000 } }] },
  },
  {
    name: 'Referrer reward',
    definition: {
      trigger: 'order_paid',
      condition: { condition: 'orderTotal', args: { min: 100_000 } },
      actions: [{ code: 'rewardReferrer', args: { level: 1, points: 50 } }],
    },
  },
  {
    name: '5 % back',
    definition: { trigger: 'order_paid', lifetimeDays: 30, actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] },
  },
];

/** In registration order: a referrer must exist before the member they brought. */
const MEMBERS = [
  { externalId: 'demo-anna', name: 'Anna Petrova', email: 'anna@sports.example', phone: '+7 912 000-00-01', birthday: '1994-03-04', tags: ['runner'] },
  { externalId: 'demo-boris', name: 'Boris Ivanov', email: 'boris@sports.example', phone: '+7 912 000-00-02', birthday: '1988-11-20', referrerExternalId: 'demo-anna' },
  { externalId: 'demo-vera', name: 'Vera Smirnova', email: 'vera@sports.example', phone: '+7 912 000-00-03', tags: ['cyclist'] },
];

interface DemoOrder {
  orderId: string;
  member: string;
  lines: Array<{ sku: string; category: string; unitPriceMinor: number; quantity: number }>;
  points?: number;
  pay: boolean;
  note: string;
}

const ORDERS: DemoOrder[] = [
  {
    orderId: 'demo-1001',
    member: 'demo-boris',
    lines: [{ sku: 'BALL-5', category: 'balls', unitPriceMinor: 100_000, quantity: 1 }],
    pay: true,
    note: 'Boris pays 1 000: he earns 50, Anna (his referrer) 50',
  },
  {
    orderId: 'demo-1002',
    member: 'demo-anna',
    lines: [
      { sku: 'RUNNING-SHOES', category: 'shoes', unitPriceMinor: 600_000, quantity: 1 },
      { sku: 'DUMBBELL-5KG', category: 'fitness', unitPriceMinor: 200_000, quantity: 2 },
    ],
    pay: true,
    note: 'Anna pays 10 000: 500 points for 30 days',
  },
  {
    orderId: 'demo-1003',
    member: 'demo-vera',
    lines: [{ sku: 'BIKE-MTB', category: 'bikes', unitPriceMinor: 5_000_000, quantity: 1 }],
    pay: true,
    note: 'Vera pays 50 000: 2 500 points',
  },
  {
    orderId: 'demo-1004',
    member: 'demo-vera',
    lines: [
      { sku: 'TENT-3P', category: 'camping', unitPriceMinor: 549_997, quantity: 1 },
      { sku: 'SLEEPING-BAG', category: 'camping', unitPriceMinor: 299_999, quantity: 1 },
      { sku: 'HEADLAMP', category: 'camping', unitPriceMinor: 75_002, quantity: 2 },
    ],
    points: 2000,
    pay: true,
    note: 'Vera buys for 10 000: 2 000 in points (the 20 % cap), 8 000 in money, earns 400',
  },
  {
    orderId: 'demo-1005',
    member: 'demo-boris',
    lines: [{ sku: 'YOGA-MAT', category: 'fitness', unitPriceMinor: 300_000, quantity: 1 }],
    pay: false,
    note: 'Boris places 3 000 and has not paid yet (pay it in GraphiQL: he earns 150, Anna 50)',
  },
];

// ---------------------------------------------------------------------------------------------
// Steps

const counts = { settings: 0, rules: 0, members: 0, ordersPlaced: 0, ordersPaid: 0 };

async function configure(): Promise<void> {
  const { program } = await gql<{ program: Record<string, unknown> }>(
    `query { program { ${Object.keys(SETTINGS).join(' ')} } }`,
  );
  const changed = Object.fromEntries(Object.entries(SETTINGS).filter(([k, v]) => program[k] !== v));
  if (Object.keys(changed).length === 0) return;
  await gql(`mutation($input: ProgramSettingsInput!) { updateProgramSettings(input: $input) { id } }`, { input: changed });
  counts.settings = Object.keys(changed).length;
}

async function createRules(): Promise<void> {
  const { rules } = await gql<{ rules: Array<{ name: string; status: string }> }>(`query { rules { name status } }`);
  const existing = new Set(rules.filter((r) => r.status !== 'ARCHIVED').map((r) => r.name));
  for (const rule of RULES) {
    if (existing.has(rule.name)) continue;
    await gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, { input: { ...rule, status: 'ACTIVE' } });
    counts.rules++;
  }
}

async function registerMembers(): Promise<void> {
  for (const member of MEMBERS) {
    const { upsertMember } = await gql<{ upsertMember: { created: boolean } }>(
      `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created } }`,
      { input: member },
    );
    if (upsertMember.created) counts.members++;
  }
}

async function placeAndPayOrders(): Promise<void> {
  for (const order of ORDERS) {
    const { order: existing } = await gql<{ order: { status: string } | null }>(
      `query($orderId: String!) { order(orderId: $orderId) { status } }`,
      { orderId: order.orderId },
    );
    let status = existing?.status;
    if (!existing) {
      const { placeOrder } = await gql<{ placeOrder: { order: { status: string } } }>(
        `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { status } } }`,
        {
          input: {
            orderId: order.orderId,
            member: { externalId: order.member },
            lines: order.lines,
            points: order.points ?? 0,
            channel: 'web',
            paymentMethod: 'card_online',
            idempotencyKey: `demo-place-${order.orderId}`,
          },
        },
      );
      status = placeOrder.order.status;
      counts.ordersPlaced++;
    }
    if (order.pay && status === 'PLACED') {
      await gql(`mutation($input: PayOrderInput!) { payOrder(input: $input) { order { status } } }`, {
        input: { orderId: order.orderId, idempotencyKey: `demo-pay-${order.orderId}` },
      });
      counts.ordersPaid++;
    }
  }
}

interface MemberSummary {
  id: string;
  externalId: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  referrerId: string | null;
  account: { available: number; pending: number; reserved: number; lifetimeEarned: number; lifetimeRedeemed: number; lifetimeExpired: number };
}

async function summary(): Promise<void> {
  const members: MemberSummary[] = [];
  for (const { externalId } of MEMBERS) {
    const { member } = await gql<{ member: MemberSummary }>(
      `query($externalId: String!) { member(externalId: $externalId) {
         id externalId name email phone referrerId
         account { available pending reserved lifetimeEarned lifetimeRedeemed lifetimeExpired } } }`,
      { externalId },
    );
    members.push(member);
  }
  const nameOf = new Map(members.map((m) => [m.id, m.name ?? m.externalId]));

  const changes = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`Patron at ${url}: the sports shop of seed 000.`);
  console.log(
    changes === 0
      ? 'Already seeded: nothing changed.'
      : `Changed: ${counts.settings} setting(s), ${counts.rules} rule(s) created, ${counts.members} member(s) registered, ${counts.ordersPlaced} order(s) placed, ${counts.ordersPaid} paid.`,
  );

  console.log('\nMembers:');
  for (const m of members) {
    const a = m.account;
    const referrer = m.referrerId ? `, referred by ${nameOf.get(m.referrerId) ?? m.referrerId}` : '';
    console.log(
      `  ${(m.name ?? '').padEnd(14)} ${m.externalId.padEnd(11)} ${String(m.email).padEnd(21)} ${String(m.phone).padEnd(13)}` +
        `  available ${String(a.available).padStart(5)}  reserved ${String(a.reserved).padStart(4)}` +
        `  (earned ${a.lifetimeEarned}, spent ${a.lifetimeRedeemed}, burnt ${a.lifetimeExpired}${referrer})`,
    );
  }

  console.log('\nOrders:');
  for (const o of ORDERS) {
    const { order } = await gql<{ order: { status: string; totalMinor: number; pointsRedeemed: number; payableMinor: number; pointsEarned: number } }>(
      `query($orderId: String!) { order(orderId: $orderId) { status totalMinor pointsRedeemed payableMinor pointsEarned } }`,
      { orderId: o.orderId },
    );
    console.log(
      `  ${o.orderId}  ${order.status.padEnd(9)} total ${rubles(order.totalMinor).padStart(6)}  points ${String(order.pointsRedeemed).padStart(4)}` +
        `  money ${rubles(order.payableMinor).padStart(6)}  earned ${String(order.pointsEarned).padStart(4)}  — ${o.note}`,
    );
  }

  const vera = members.find((m) => m.externalId === 'demo-vera')!;
  const { issueCustomerToken } = await gql<{ issueCustomerToken: { token: string; expiresAt: string } }>(
    `mutation($input: IssueCustomerTokenInput!) { issueCustomerToken(input: $input) { token expiresAt } }`,
    { input: { member: { externalId: vera.externalId }, ttlSeconds: 3600 } },
  );

  console.log(`
GraphiQL: open ${url} in a browser, put {"Authorization": "Bearer <PATRON_ADMIN_KEY>"} in the headers, and paste:

query SportsShop {
  program { name maxRedeemPercent pointValueMinor timeZone }
  rulesConnection { nodes { name status definition { trigger condition lifetimeDays actions { code args } } } }
  member(externalId: "demo-anna") {
    name
    account { available lifetimeEarned lifetimeExpired availableMoney { amountMinor currency } }
  }
  ledgerEntries(member: { externalId: "demo-anna" }, first: 10) {
    nodes { createdAt kind amount balanceAfter rule { name version } }
  }
  lots(member: { externalId: "demo-anna" }, openOnly: true) { nodes { remaining expiresAt } }
}

Customer token for ${vera.name} (valid until ${issueCustomerToken.expiresAt}), for {"Authorization": "Bearer <token>"}
and the query  { me { name account { available reserved } } lots(openOnly: true) { nodes { remaining expiresAt } } }

${issueCustomerToken.token}`);
}

function rubles(minor: number): string {
  return (minor / 100).toFixed(minor % 100 === 0 ? 0 : 2);
}

async function main(): Promise<void> {
  if (!adminKey) {
    throw new SeedError(
      'PATRON_ADMIN_KEY is not set. Run the seed with the operator key the server uses:\n' +
        '  PATRON_ADMIN_KEY=<key> npm run seed:demo\n' +
        '(start the server with the same PATRON_ADMIN_KEY, or take the key it printed on its first start).',
    );
  }
  await configure();
  await createRules();
  await registerMembers();
  await placeAndPayOrders();
  await summary();
}

main().catch((error) => {
  console.error(error instanceof SeedError ? `seed:demo: ${error.message}` : error);
  process.exitCode = 1;
});
