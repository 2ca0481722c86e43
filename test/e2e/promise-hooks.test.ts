import { spawn } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { spawnServer, type ServerProcess } from '../support/server-process';
import { createMember, createProgram, ok, uniqueKey, waitFor, accrue } from './helpers';

/**
 * Node 20 turns promise hooks on for the whole process once any AsyncLocalStorage runs, and
 * never off while that storage lives; every promise then pays for an async id and a context
 * copy (about a fifth of the server's CPU on a balance read). MikroORM's flush() and
 * transactional() run one, so configuration written through the ORM must not use them. This
 * starts the real server with a probe preloaded, writes every kind of configuration, and asks
 * the process whether its promise hooks are on.
 */
const PROBE = path.resolve(__dirname, '../support/promise-hook-probe.js');
let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await spawnServer({
    DATABASE_URL: db.url,
    NODE_OPTIONS: `--require ${PROBE}`,
  });
}, 90_000);
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function promiseHooksOn(): Promise<boolean> {
  const seen = server.output.length;
  server.child.kill('SIGUSR2');
  const answered = () => server.output.slice(seen).find((line) => line.includes('promise hooks probe'));
  expect(await waitFor(() => answered() !== undefined, 5000)).toBe(true);
  return JSON.parse(answered()!).promiseHooks as boolean;
}

/** What the probe says in a bare process that ran an AsyncLocalStorage, or did not. */
async function probeOfProcess(runStorage: boolean): Promise<boolean> {
  const script = `${runStorage ? "new (require('node:async_hooks').AsyncLocalStorage)().run(1, () => {});" : ''} setInterval(() => {}, 1000); process.send('up');`;
  const child = spawn(process.execPath, ['--require', PROBE, '-e', script], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  try {
    await new Promise((resolve) => child.once('message', resolve));
    let err = '';
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.kill('SIGUSR2');
    expect(await waitFor(() => err.includes('promise hooks probe'), 5000)).toBe(true);
    return JSON.parse(err.trim().split('\n').pop()!).promiseHooks as boolean;
  } finally {
    child.kill('SIGKILL');
  }
}

test('the probe tells a process whose promise hooks are on from one whose are off', async () => {
  // On a Node whose AsyncLocalStorage needs no promise hooks the first answer is false: then the
  // test below would prove nothing, and this one says so.
  expect(await probeOfProcess(true)).toBe(true);
  expect(await probeOfProcess(false)).toBe(false);
});

const rule = (points: number) => ({
  trigger: 'product_review',
  condition: { condition: 'eventField', args: { path: 'rating', operator: 'gte', value: 4 } },
  actions: [{ code: 'fixedPoints', args: { points } }],
});

test('starting, and writing programs, keys and rules, leave the process without promise hooks', async () => {
  expect(await promiseHooksOn()).toBe(false);

  // A program with its first admin key, a server key (createProgram), its settings changed.
  const P = await createProgram(server);
  const settings = ok(await server.request<any, any>('mutation { updateProgramSettings(input: { defaultLifetimeDays: 90 }) { defaultLifetimeDays } }', {}, P.adminKey));
  expect(settings.updateProgramSettings).toEqual({ defaultLifetimeDays: 90 });
  // A key made and revoked.
  const made = ok(await server.request<any, any>('mutation { createApiKey(input: { name: "spare", role: ADMIN }) { apiKey { id } } }', {}, P.adminKey));
  const revoked = ok(await server.request<any, any>('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: made.createApiKey.apiKey.id }, P.adminKey));
  expect(revoked.revokeApiKey.revokedAt).toEqual(expect.any(String));
  // A rule created, edited into a second version, activated.
  const created = ok(await server.request<any, any>(
    'mutation($input: CreateRuleInput!) { createRule(input: $input) { id version } }', { input: { name: 'review', definition: rule(10) } }, P.adminKey,
  )).createRule;
  const edited = ok(await server.request<any, any>(
    'mutation($input: UpdateRuleInput!) { updateRule(input: $input) { version name } }', { input: { id: created.id, name: 'good review', definition: rule(20) } }, P.adminKey,
  )).updateRule;
  expect(edited).toEqual({ version: 2, name: 'good review' });
  const active = ok(await server.request<any, any>('mutation($id: ID!) { setRuleStatus(id: $id, status: ACTIVE) { status } }', { id: created.id }, P.adminKey));
  expect(active.setRuleStatus.status).toBe('ACTIVE');
  // And the ledger's own writes.
  const member = await createMember(server, P.serverKey, { externalId: uniqueKey('m') });
  expect((await accrue(server, P.serverKey, member.id, 5)).account.available).toBe(5);

  expect(await promiseHooksOn()).toBe(false);
}, 60_000);
