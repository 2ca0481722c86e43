import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** A merge left half-done shows as these lines; no tracked text file may hold one. */
test('no tracked file holds a merge conflict marker', () => {
  const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /\.(ts|md|graphql|json|yml|js|html|css)$/.test(f) && !f.endsWith('package-lock.json'));
  const marked = tracked.filter((f) => {
    try {
      return /^(<{7}|>{7}) /m.test(readFileSync(path.join(ROOT, f), 'utf8'));
    } catch {
      return false; // listed but deleted in the work tree
    }
  });
  expect(marked).toEqual([]);
});
