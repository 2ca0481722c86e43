import { backoffMs, classifyDatabaseError } from '../../src/db/failures';

test('database failures are told apart by SQLSTATE, socket code or pg message, also when wrapped', () => {
  const cases: Array<[unknown, string | undefined]> = [
    [{ code: '40001' }, 'conflict'],
    [{ code: '40P01' }, 'conflict'],
    [{ code: '57P01' }, 'connection'],
    [{ code: '08006' }, 'connection'],
    [{ code: 'ECONNREFUSED' }, 'connection'],
    [new Error('Connection terminated unexpectedly'), 'connection'],
    [{ code: '57014' }, 'timeout'],
    [{ code: '25P03' }, 'timeout'],
    [{ message: 'Context creation failed', originalError: { code: 'ECONNRESET' } }, 'connection'],
    [{ code: '23505' }, undefined],
    [new Error('something else'), undefined],
    [undefined, undefined],
  ];
  expect(cases.map(([error]) => classifyDatabaseError(error))).toEqual(cases.map(([, kind]) => kind));
});

test('backoff is full jitter under a doubling, capped ceiling', () => {
  expect([1, 2, 3, 4].map((n) => backoffMs(n, 10, 500, () => 1))).toEqual([10, 20, 40, 80]);
  expect(backoffMs(20, 10, 500, () => 1)).toBe(500);
  expect(backoffMs(3, 10, 500, () => 0)).toBe(0);
});
