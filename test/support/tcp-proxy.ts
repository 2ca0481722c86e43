import net from 'node:net';

/**
 * A TCP proxy in front of the test PostgreSQL, so a test can take "the database" away the way
 * a network or a crashed server does: open sockets cut, new ones refused. `url` is the
 * database URL through the proxy. It also counts round trips: each time a client speaks after
 * the database answered it. (In the client's own process, what the client writes in one turn of
 * the event loop is all in the proxy's socket before the proxy reads it.)
 */
export interface TcpProxy {
  url: string;
  /** Cuts every connection and stops listening (connections are refused). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
  roundTrips(): number;
  resetRoundTrips(): void;
}

export async function startTcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<net.Socket>();
  let roundTrips = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    let answered = true;
    client.on('data', () => {
      if (answered) roundTrips++;
      answered = false;
    });
    upstream.on('data', () => (answered = true));
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  let listening = true;
  const down = async () => {
    // close() waits for open sockets, so they are cut at once too.
    const closed = listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    listening = false;
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    url: url.toString(),
    down,
    up: async () => {
      if (!listening) await listen(port);
      listening = true;
    },
    close: down,
    roundTrips: () => roundTrips,
    resetRoundTrips: () => (roundTrips = 0),
  };
}
