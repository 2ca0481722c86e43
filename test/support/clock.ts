import type { Clock } from '../../src/services/shared';

/** Real time plus an offset the tests move forward (authorization TTLs, periods, due lots). */
export class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}
