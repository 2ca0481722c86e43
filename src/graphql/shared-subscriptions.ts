import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { rolesOf, type Context } from './context';

/**
 * Shared execution of subscription events.
 *
 * graphql-js runs a subscription's whole selection once per subscriber and event: with 2 000
 * sockets watching one member, one balance change meant 2 000 identical executions. Here
 * subscribers that asked the same thing (same document text, operation name and variables) and
 * whose context gives the same result (see `audienceOf`) share one execution per event; each
 * socket still gets its own message with its own id.
 *
 * Events reach every local subscriber of a routing key as one and the same object (the topic
 * router pushes the object it decoded once), so the first subscriber of a group to take an event
 * executes it and leaves the result in a WeakMap keyed by that object; the others reuse it. The
 * result lives as long as some subscriber still holds the event in its buffer.
 *
 * What stays per subscriber: the subscribe resolver (authorization, the member check) runs for
 * each subscription as before; credentials are re-checked per operation and while sockets stay
 * open (server.ts); errors in a result are formatted per message by onNext.
 */

/** Executions and deliveries, over every server of the process: tests and measurements read them. */
export const sharedExecutionStats = { executions: 0, deliveries: 0 };

/**
 * The part of a subscriber's context its results depend on. Resolvers under a subscription root
 * read the program (scope of every read), the roles (`@Authorized` fields, admin/server actor
 * kinds) and, for a customer token, the member (its own data only, customer views of entries).
 * Request id, logger, client address and the key's own id only label logs, so subscribers that
 * differ only in those share.
 */
export function audienceOf(context: Context): string | null {
  const identity = context.identity;
  if (identity.kind === 'customer') return `customer\u0000${identity.programId}\u0000${identity.memberId}`;
  if (identity.kind === 'key') return `key\u0000${identity.programId}\u0000${rolesOf(identity).join(',')}`;
  return null;
}

/** One group per (operation, audience); null: not shareable, execute alone. */
export function groupKeyOf(args: ExecutionArgs): string | null {
  const query = args.document.loc?.source.body;
  const audience = args.contextValue ? audienceOf(args.contextValue as Context) : null;
  if (query === undefined || audience === null) return null;
  return JSON.stringify([query, args.operationName ?? null, args.variableValues ?? null, audience]);
}

type Results = Map<string, Promise<ExecutionResult>>;

/** A drop-in for graphql-ws's `subscribe` option (graphql-js `subscribe` with shared execution). */
export function createSharedSubscribe(): (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const resultsByEvent = new WeakMap<object, Results>();

  const executeEvent = (args: ExecutionArgs, groupKey: string | null, event: unknown): Promise<ExecutionResult> => {
    const run = (): Promise<ExecutionResult> => {
      sharedExecutionStats.executions++;
      // execute() returns a value or a promise, and throws only on programming errors (bad args).
      return Promise.resolve().then(() => execute({ ...args, rootValue: event }));
    };
    if (groupKey === null || typeof event !== 'object' || event === null) return run();
    let results = resultsByEvent.get(event);
    if (!results) resultsByEvent.set(event, (results = new Map()));
    let result = results.get(groupKey);
    if (!result) results.set(groupKey, (result = run()));
    return result;
  };

  return async (args) => {
    // The per-subscriber part: the subscribe resolver (authorization, member checks) runs here.
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const groupKey = groupKeyOf(args);
    const events = source[Symbol.asyncIterator]();
    return mapEvents(events, (event) => {
      sharedExecutionStats.deliveries++;
      return executeEvent(args, groupKey, event);
    });
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Like graphql-js's internal mapAsyncIterator: `return()` reaches the source, so it unsubscribes. */
function mapEvents(events: AsyncIterator<unknown>, map: (event: unknown) => Promise<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
  const close = async (): Promise<void> => {
    await events.return?.();
  };
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const step = await events.next();
      if (step.done) return { value: undefined, done: true };
      try {
        return { value: await map(step.value), done: false };
      } catch (error) {
        await close().catch(() => undefined);
        throw error;
      }
    },
    async return() {
      await close();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped;
}
