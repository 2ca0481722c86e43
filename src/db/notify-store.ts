import { statement } from './statement';

/** Several NOTIFYs on one channel in one statement: delivered in order, in one round trip. */
export const notifyAll = statement<[channel: string, payloads: string[]], never>(
  'pubsub.notify_all',
  'select pg_notify($1, payload) from unnest($2::text[]) with ordinality as batch(payload, position) order by position',
);
