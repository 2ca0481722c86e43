import type { OutboxRelay } from '../services/realtime';
import { DAY_MS } from '../services/shared';
import type { JobDefinition } from './runner';

/** How long published events stay readable for clients that missed them (balanceChanges). */
export const OUTBOX_RETENTION_DAYS = 7;

/** Deletes published outbox events past their retention, once a night. */
export function pruneOutboxJob(relay: OutboxRelay, schedule = '17 3 * * *'): JobDefinition {
  return {
    name: 'prune-outbox',
    schedule,
    run: async (asOf) => ({ events: await relay.prune(new Date(asOf.getTime() - OUTBOX_RETENTION_DAYS * DAY_MS)) }),
  };
}
