import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The shape of the code, checked like the schema: arrows point down (resolvers → services →
 * stores → db), modules meet only at their index.ts, no module imports another in a circle, and
 * SQL lives in stores. Each rule names the files that break it.
 */

const ROOT = path.resolve(__dirname, '../..');
const SRC = path.join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : name.endsWith('.ts') ? [full] : [];
  });
}

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');
const sources = files(SRC).map((file) => ({ file: rel(file), text: readFileSync(file, 'utf8') }));

/** Import specifiers of a file (static imports and re-exports; type-only ones too: they are arrows all the same). */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) found.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+'([^']+)'/g)) found.push(m[1]!);
  return found;
}

/** The file an import names, without its extension: `src/services/ledger/account-book` or a package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
}

/** `src/services/<module>` for a file in a service module, else null. */
const moduleOf = (file: string) => /^src\/services\/([^/]+)\//.exec(file)?.[1] ?? null;

const edges = sources.flatMap(({ file, text }) => importsOf(text).map((spec) => ({ from: file, spec, to: target(file, spec) })));

test('services never see GraphQL, resolvers or jobs', () => {
  const wrong = edges.filter(
    (e) => e.from.startsWith('src/services/') &&
      (/^(graphql|type-graphql|@apollo\/|graphql-ws|@as-integrations\/)/.test(e.spec) ||
        e.to.startsWith('src/resolvers') || e.to.startsWith('src/graphql') || e.to.startsWith('src/jobs') || e.to.startsWith('src/server')),
  );
  expect(wrong.map((e) => `${e.from} imports ${e.spec}`)).toEqual([]);
});

test('stores and entities sit below services: nothing under db/ or entities/ imports a service, resolver or job', () => {
  const wrong = edges.filter(
    (e) => (e.from.startsWith('src/db/') || e.from.startsWith('src/entities/') || e.from.startsWith('src/rules/')) &&
      /^src\/(services|resolvers|graphql|jobs)\//.test(e.to),
  );
  expect(wrong.map((e) => `${e.from} imports ${e.spec}`)).toEqual([]);
});

test('a module uses another only through its index.ts', () => {
  const wrong = edges.filter((e) => {
    const own = moduleOf(e.from);
    const m = /^src\/services\/([^/]+)\/(.+)$/.exec(e.to);
    if (!m || m[2] === 'index' || m[1] === own) return false;
    // Module augmentation of the shared hooks names the file it merges into.
    return !(m[1] === 'shared' && m[2] === 'hooks');
  });
  expect(wrong.map((e) => `${e.from} imports ${e.spec}`)).toEqual([]);
});

/** Where the parts are put together (the schema from its resolvers, the app from everything): not part of any cycle. */
const COMPOSITION_ROOTS = new Set(['src/graphql/schema.ts', 'src/app.ts', 'src/main.ts', 'src/server.ts']);

test('no import cycle between modules', () => {
  const graph = new Map<string, Set<string>>();
  const node = (file: string): string | null => {
    if (!file.startsWith('src/')) return null;
    return moduleOf(file + '/') ?? moduleOf(file) ?? (file.startsWith('src/services/') ? `services` : file.split('/').slice(0, 2).join('/'));
  };
  for (const e of edges) {
    if (COMPOSITION_ROOTS.has(e.from)) continue;
    const [a, b] = [node(e.from), node(e.to)];
    if (!a || !b || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: string, trail: string[]) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(n)), n].join(' → '));
      return;
    }
    state.set(n, 'open');
    for (const next of graph.get(n) ?? []) visit(next, [...trail, n]);
    state.set(n, 'done');
  };
  for (const n of graph.keys()) visit(n, []);
  expect(cycles).toEqual([]);
});

/** Statement text: a string that reads as SQL (a keyword and what it acts on). */
const SQL = /[`'"]\s*(?:with\s+(?:recursive\s+)?\w+\s+(?:\([^)]*\)\s+)?as\s*\(|select\s[\s\S]{0,400}?\sfrom\s|insert\s+into\s|update\s+"?\w+"?\s+(?:\w+\s+)?set\s|delete\s+from\s)/gi;

/** Where SQL may be written: the stores, the db layer and the migrations. */
const SQL_HOMES = [/^src\/services\/.+-store\.ts$/, /^src\/db\//, /^src\/migrations\//];

test('SQL text lives in stores (src/services/<module>/*-store.ts) and the db layer only', () => {
  const outside = sources
    .filter(({ file }) => !SQL_HOMES.some((home) => home.test(file)))
    .flatMap(({ file, text }) => [...text.matchAll(SQL)].map((m) => `${file}:${text.slice(0, m.index).split('\n').length}`));
  expect(outside).toEqual([]);
});
