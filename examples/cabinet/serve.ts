import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildCabinet } from './build';

/**
 * A shop's own web server in miniature: serves the built cabinet and `/config.js`, which tells
 * the page where Patron is. The cabinet runs on this origin and calls Patron cross-origin, so
 * Patron needs this origin in PATRON_CORS_ORIGINS.
 */
export interface CabinetServer {
  origin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

export async function serveCabinet(options: { dir: string; patronUrl: () => string; port?: number; host?: string }): Promise<CabinetServer> {
  const files = new Map<string, string>([['/', 'index.html'], ['/index.html', 'index.html'], ['/app.js', 'app.js'], ['/app.js.map', 'app.js.map'], ['/styles.css', 'styles.css']]);
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://cabinet').pathname;
    if (pathname === '/config.js') {
      const httpUrl = options.patronUrl();
      const config = { httpUrl, wsUrl: httpUrl.replace(/^http/, 'ws') };
      res.writeHead(200, { 'content-type': TYPES['.js'], 'cache-control': 'no-store' });
      res.end(`window.PATRON = ${JSON.stringify(config)};\n`);
      return;
    }
    const file = files.get(pathname);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(path.join(options.dir, file)));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * `npm run cabinet`: builds, serves and prints a link that signs a member in.
 * PATRON_URL (default http://localhost:4000/graphql), PATRON_SERVER_KEY (a server or admin key),
 * CABINET_MEMBER (the member's externalId, default demo-anna from `npm run seed:demo`),
 * CABINET_PORT (default 4100). Start Patron with PATRON_CORS_ORIGINS=http://localhost:4100.
 */
async function main() {
  const patronUrl = process.env.PATRON_URL ?? `http://localhost:${process.env.PORT ?? 4000}/graphql`;
  const key = process.env.PATRON_SERVER_KEY ?? process.env.PATRON_ADMIN_KEY;
  if (!key) throw new Error('Set PATRON_SERVER_KEY (or PATRON_ADMIN_KEY) to a key that may issue customer tokens');
  const externalId = process.env.CABINET_MEMBER ?? 'demo-anna';
  const dir = await buildCabinet();
  const cabinet = await serveCabinet({ dir, patronUrl: () => patronUrl, port: Number(process.env.CABINET_PORT ?? 4100), host: 'localhost' });
  const res = await fetch(patronUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      query: 'mutation($m: MemberRefInput!) { issueCustomerToken(input: { member: $m, ttlSeconds: 3600 }) { token } }',
      variables: { m: { externalId } },
    }),
  });
  const body = (await res.json()) as { data?: { issueCustomerToken: { token: string } }; errors?: unknown };
  if (!body.data) throw new Error(`issueCustomerToken failed: ${JSON.stringify(body.errors)}`);
  console.log(`Cabinet of ${externalId} (the token lives an hour):\n  ${cabinet.origin}/#token=${body.data.issueCustomerToken.token}`);
  console.log(`Patron must allow this origin: PATRON_CORS_ORIGINS=${cabinet.origin}`);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
