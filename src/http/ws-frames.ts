import { isUtf8 } from 'node:buffer';
import type { WebSocket } from 'ws';

/** The close code for a message whose data is not what its type says (RFC 6455): here, not UTF-8. */
export const INVALID_PAYLOAD = 1007;

/**
 * Closes the socket on a binary message that is not valid UTF-8, before graphql-ws reads it.
 * ws checks text frames itself; a binary frame it hands over as bytes, and graphql-ws decodes
 * them lossily (`String(data)`): each invalid byte becomes U+FFFD, so two idempotency keys that
 * differ only there would become one, and the second write would replay the first's answer.
 * Valid UTF-8 in a binary frame is read as usual. Messages already on the wire behind a refused
 * one are dropped too: closing only starts the closing handshake, and ws goes on emitting what it
 * had read (a mutation sent right behind the bad frame would run while the client sees 1007).
 * Call it before graphql-ws sees the socket (from a `connection` listener added before `useServer`'s).
 */
export function refuseInvalidUtf8(socket: WebSocket): void {
  const emit = socket.emit.bind(socket);
  let refused = false;
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'message') {
      if (refused) return true;
      if (args[1] === true && !isUtf8(args[0] as Buffer)) {
        refused = true;
        socket.close(INVALID_PAYLOAD, 'Message is not valid UTF-8');
        return true;
      }
    }
    return emit(event, ...args);
  }) as WebSocket['emit'];
}
