import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildSchema, Kind, parse, validate, type DocumentNode } from 'graphql';
import pino from 'pino';
import { LocalPubSub } from '../../src/graphql/pubsub';
import { createSchema, printSdl } from '../../src/graphql/schema';

const root = path.resolve(__dirname, '..', '..');
const operationsDir = path.join(__dirname, 'operations');

test('schema.graphql is what the code builds', async () => {
  const schema = await createSchema(new LocalPubSub({ logger: pino({ level: 'silent' }) }));
  const committed = readFileSync(path.join(root, 'schema.graphql'), 'utf8');
  // On failure: `npm run schema` regenerates it (then `npm run codegen`).
  expect(printSdl(schema)).toBe(committed);
});

test('every e2e operation validates against schema.graphql', () => {
  const schema = buildSchema(readFileSync(path.join(root, 'schema.graphql'), 'utf8'));
  const files = readdirSync(operationsDir).filter((f) => f.endsWith('.graphql'));
  expect(files.length).toBeGreaterThan(0);
  // Fragments may be used across files, so the documents are validated together.
  const documents = files.map((f) => parse(readFileSync(path.join(operationsDir, f), 'utf8')));
  const all: DocumentNode = { kind: Kind.DOCUMENT, definitions: documents.flatMap((d) => d.definitions) };
  expect(validate(schema, all).map((e) => e.message)).toEqual([]);
  const operations = all.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  expect(operations.length).toBeGreaterThanOrEqual(20);
  expect(operations.every((o) => o.name)).toBe(true);
});

test('test/e2e/generated and client/generated are what codegen makes of the operations today', async () => {
  // In a child process: codegen loads its plugins in ways Jest's module sandbox does not run.
  const script = `
    const { loadCodegenConfig, generate } = require('@graphql-codegen/cli');
    (async () => {
      const { config } = await loadCodegenConfig({ configFilePath: 'codegen.yml' });
      const outputs = await generate({ ...config, silent: true }, false);
      process.stdout.write(JSON.stringify(outputs.map((o) => ({ filename: o.filename, content: o.content }))));
    })().catch((error) => { console.error(error); process.exit(1); });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const outputs = JSON.parse(stdout) as Array<{ filename: string; content: string }>;
  expect(outputs.map((o) => o.filename).sort()).toEqual(['client/generated/gql.ts', 'client/generated/graphql.ts', 'client/generated/index.ts', 'test/e2e/generated/graphql.ts']);
  for (const output of outputs) {
    // On failure: `npm run codegen`.
    expect(output.content).toBe(readFileSync(path.join(root, output.filename), 'utf8'));
  }
}, 30_000);
