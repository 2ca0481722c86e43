import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The typed client (client/), its examples and the cabinet compile as a shop's front-end build
 * would compile them (strict, bundler resolution, DOM). The examples assert the scalar mapping:
 * balances are `number` (a line assigning one to `string` must fail), instants `string`.
 */
test('tsc accepts client/ and examples/cabinet with the scalars mapped', async () => {
  const root = path.resolve(__dirname, '..', '..');
  const tsc = require.resolve('typescript/bin/tsc');
  const run = promisify(execFile)(process.execPath, [tsc, '-p', 'client/tsconfig.json', '--pretty', 'false'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  await expect(run.then(() => 'compiled', (error: { stdout?: string }) => error.stdout)).resolves.toBe('compiled');
}, 120_000);
