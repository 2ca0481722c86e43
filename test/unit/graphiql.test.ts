import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  GRAPHIQL_ASSET_PREFIX,
  createGraphiqlHandler,
  graphiqlPage,
  serveGraphiqlAsset,
} from '../../src/graphql/graphiql';

const options = { endpoint: '/graphql', subscriptionEndpoint: '/graphql' };

/** Every URL the page loads: links, scripts, module imports and Monaco's workers. */
function referencedUrls(html: string): string[] {
  const urls = new Set<string>();
  for (const match of html.matchAll(/(?:href|src)="([^"]+)"/g)) urls.add(match[1]);
  for (const match of html.matchAll(/\bfrom\s+"([^"]+)"/g)) urls.add(match[1]);
  const workerBase = /new URL\("([^"]+)" \+ file/.exec(html)?.[1];
  expect(workerBase).toBeDefined();
  for (const match of html.matchAll(/worker\("([^"]+)"\)/g)) urls.add(`${workerBase}${match[1]}`);
  return [...urls];
}

describe('GraphiQL page', () => {
  let server: http.Server;
  let origin: string;

  beforeAll(async () => {
    const handle = createGraphiqlHandler(options);
    server = http.createServer((req, res) => {
      if (!handle(req, res)) {
        res.writeHead(418);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('references no external host', () => {
    const html = graphiqlPage(options);
    const absolute = [...html.matchAll(/\b(?:https?|wss?):\/\/[^\s"'`<>)]+/g)].map((m) => m[0]);
    expect(absolute).toEqual([]);
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn/i);
    for (const url of referencedUrls(html)) expect(url.startsWith(GRAPHIQL_ASSET_PREFIX)).toBe(true);
  });

  it('configures the header editor and graphql-ws subscriptions on the same endpoint', () => {
    const html = graphiqlPage(options);
    expect(html).toContain('"isHeadersEditorEnabled": true');
    expect(html).toContain('"subscriptionEndpoint": "/graphql"');
    expect(html).toContain('"endpoint": "/graphql"');
  });

  it('serves the page for GET /graphql with Accept: text/html and leaves other requests alone', async () => {
    const page = await fetch(`${origin}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toBe(graphiqlPage(options));

    const json = await fetch(`${origin}/graphql`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(418);
    const post = await fetch(`${origin}/graphql`, { method: 'POST', headers: { accept: 'text/html' }, body: '{}' });
    expect(post.status).toBe(418);
  });

  it('serves every asset the page references, with a non-empty body', async () => {
    const html = await (await fetch(`${origin}/graphql`, { headers: { accept: 'text/html' } })).text();
    const urls = referencedUrls(html);
    expect(urls).toEqual(expect.arrayContaining(['/graphiql/ruru.js', '/graphiql/ruru.css', '/graphiql/graphqlWorker.js']));
    for (const url of urls) {
      const response = await fetch(origin + url);
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  });

  it('serves the chunks and fonts ruru.js loads at run time (all of ruru/static but source maps)', () => {
    const staticDir = path.join(path.dirname(require.resolve('ruru')), '..', 'static');
    const files = readdirSync(staticDir).filter((name) => /\.(js|css|ttf)$/.test(name));
    expect(files.length).toBeGreaterThan(10);
    for (const name of files) {
      const asset = serveGraphiqlAsset(`${GRAPHIQL_ASSET_PREFIX}${name}`);
      expect(asset?.body.length).toBeGreaterThan(0);
    }
  });

  it('compresses, revalidates and refuses unknown paths', async () => {
    const identity = await fetch(`${origin}/graphiql/ruru.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(identity.headers.get('content-encoding')).toBeNull();
    const raw = Buffer.from(await identity.arrayBuffer());
    expect(raw.equals(serveGraphiqlAsset('/graphiql/ruru.js')!.body)).toBe(true);

    // fetch decompresses transparently; the body must still be the original file.
    const brotli = await fetch(`${origin}/graphiql/ruru.js`, { headers: { 'accept-encoding': 'br' } });
    expect(brotli.headers.get('content-encoding')).toBe('br');
    expect(Buffer.from(await brotli.arrayBuffer()).equals(raw)).toBe(true);

    const etag = identity.headers.get('etag')!;
    expect((await fetch(`${origin}/graphiql/ruru.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    expect((await fetch(`${origin}/graphiql/ruru.js.map`)).status).toBe(404);
    expect((await fetch(`${origin}/graphiql/nope.js`)).status).toBe(404);
    expect(serveGraphiqlAsset('/graphiql/../package.json')).toBeNull();
    expect(serveGraphiqlAsset('/graphiql/%2e%2e/package.json')).toBeNull();
    expect(serveGraphiqlAsset('/elsewhere/ruru.js')).toBeNull();
    expect(serveGraphiqlAsset('/graphiql/ruru.css?v=1')?.contentType).toMatch(/^text\/css/);
  });
});
