import type { ApolloClient, OperationVariables, TypedDocumentNode } from '@apollo/client';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Watched<T> {
  data?: T;
  error?: Error;
  loading: boolean;
}

/**
 * A query watched in Apollo's normalised cache: whatever updates the cache (a refetch, a
 * mutation, or a subscription event carrying the changed Account) re-renders the component.
 */
export function useWatchedQuery<T, V extends OperationVariables>(client: ApolloClient, query: TypedDocumentNode<T, V>, variables?: V) {
  const [state, setState] = useState<Watched<T> & { refetch: () => void }>({ loading: true, refetch: () => undefined });
  useEffect(() => {
    const observable = client.watchQuery<T, V>({ query, variables: variables as V, fetchPolicy: 'cache-and-network' } as never);
    const refetch = readAfterEveryChange(() => observable.refetch());
    const subscription = observable.subscribe({
      next: (result) =>
        setState({
          data: result.dataState === 'complete' ? (result.data as T) : undefined,
          error: result.error,
          loading: result.loading,
          refetch,
        }),
      error: (error: Error) => setState((s) => ({ ...s, error, loading: false })),
    });
    return () => subscription.unsubscribe();
  }, [client, query]);
  return state;
}

/**
 * A read to run after each change, never two at once. A read asked for while one is on the wire
 * would get that one's answer (Apollo shares an identical request in flight), which may predate
 * the change that asked: so it waits, and one more read follows for all changes meanwhile.
 */
export function readAfterEveryChange(read: () => Promise<unknown>): () => void {
  let reading = false;
  let changedSince = false;
  const run = () => {
    if (reading) {
      changedSince = true;
      return;
    }
    reading = true;
    read()
      .catch(() => undefined)
      .finally(() => {
        reading = false;
        if (changedSince) {
          changedSince = false;
          run();
        }
      });
  };
  return run;
}

export type LiveStatus = 'connecting' | 'live' | 'offline';

/** The socket's state, fed by graphql-ws's `connected` / `closed` events (see main.tsx). */
export function liveStatusStore() {
  let status: LiveStatus = 'connecting';
  const listeners = new Set<(s: LiveStatus) => void>();
  return {
    set(next: LiveStatus) {
      status = next;
      listeners.forEach((l) => l(next));
    },
    use(): LiveStatus {
      const [current, setCurrent] = useState(status);
      useEffect(() => {
        listeners.add(setCurrent);
        setCurrent(status);
        return () => void listeners.delete(setCurrent);
      }, []);
      return current;
    },
  };
}

/** A subscription kept open for the component's life; `onEvent` runs for every event. */
export function useSubscription<T>(client: ApolloClient, query: TypedDocumentNode<T, Record<string, never>>, onEvent: (data: T) => void): void {
  // The latest callback, not the one of the first render (it may close over stale state).
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    const subscription = client.subscribe({ query }).subscribe({
      next: (result) => {
        if (result.data) handler.current(result.data as T);
      },
    });
    return () => subscription.unsubscribe();
  }, [client, query]);
}
