import { didWork } from '../../src/jobs/runner';

test('a job run is worth a log line only when it moved something', () => {
  expect(didWork({ lots: 0, entries: 0, accounts: 0, batches: 0 })).toBe(false);
  expect(didWork({ programs: 3, raised: 0, points: 0, failed: 0 })).toBe(false);
  expect(didWork({})).toBe(false);
  expect(didWork({ lots: 2, entries: 1, accounts: 1, batches: 1 })).toBe(true);
  expect(didWork({ programs: 1, raised: 0, points: 0, failed: 1 })).toBe(true);
});
