import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
// The `moduleResolution: node` of tsconfig ignores package `exports`, so the types come from the
// file path while the runtime require goes through the exported `ruru/server` entry.
import type * as RuruServer from 'ruru/dist/server';

const { ruruHTML } = require('ruru/server') as typeof RuruServer;

/**
 * GraphiQL (the `ruru` distribution) served offline: the page and every asset it loads come
 * from the installed `ruru` package, never from a CDN.
 *
 * We read `node_modules/ruru/static` ourselves instead of using `ruru/static`'s helpers:
 * those load their bundle with a dynamic `import()`, which Jest's VM cannot run.
 */

export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

export interface GraphiqlPageOptions {
  /** GraphQL HTTP endpoint, e.g. `/graphql`. */
  endpoint: string;
  /** graphql-ws endpoint; a path such as `/graphql` becomes ws(s)://<same host>/graphql in the browser. */
  subscriptionEndpoint: string;
  /** URL path the assets are served under; must start and end with `/`. */
  assetPrefix?: string;
  title?: string;
  /** JSON text for the headers editor of a new tab, e.g. `{"Authorization": "Bearer "}`. */
  defaultHeaders?: string;
  /** The query editor's text in a new tab (GraphiQL's own welcome text when unset). */
  defaultQuery?: string;
}

/** The header template a new tab opens with: the key or token goes after `Bearer `. */
export const GRAPHIQL_DEFAULT_HEADERS = '{\n  "Authorization": "Bearer "\n}';

/** What a new tab opens with: where the credentials go, then a query admin and server keys may run. */
export const GRAPHIQL_STARTER_QUERY = `# Welcome to Patron. In the Headers tab below,
# put after "Bearer " one of:
#   an admin key, ptn_adm_… (the operator's is
#     printed at the first start),
#   a server key, ptn_srv_…, or
#   a customer token (then ask for \`me\`).
# Run: the ▶ button or Ctrl-Enter.
# Docs (on the left) lists every operation.
query Start {
  program {
    name
    currency
    pointValueMinor
    maxRedeemPercent
    timeZone
  }
}
`;

export interface GraphiqlAsset {
  contentType: string;
  body: Buffer;
  /** Strong ETag of the uncompressed body. */
  etag: string;
}

/** The GraphiQL props we set; ruru passes its whole client config to the GraphiQL component. */
interface PatronClientConfig {
  isHeadersEditorEnabled: boolean;
  defaultEditorToolsVisibility: boolean | 'variables' | 'headers';
  showPersistHeadersSettings: boolean;
  defaultHeaders?: string;
  defaultQuery?: string;
}

export function graphiqlPage(options: GraphiqlPageOptions): string {
  const assetPrefix = normalizePrefix(options.assetPrefix ?? GRAPHIQL_ASSET_PREFIX);
  const clientConfig: PatronClientConfig = {
    // The header editor is where a user puts `Authorization: Bearer <key>`; it is sent with
    // HTTP requests and as graphql-ws connectionParams for subscriptions.
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: 'headers',
    showPersistHeadersSettings: true,
    ...(options.defaultHeaders !== undefined ? { defaultHeaders: options.defaultHeaders } : {}),
    ...(options.defaultQuery !== undefined ? { defaultQuery: options.defaultQuery } : {}),
  };
  return ruruHTML({
    staticPath: assetPrefix,
    endpoint: options.endpoint,
    subscriptionEndpoint: options.subscriptionEndpoint,
    subscriptions: true,
    // ruru's declared type is built from GraphiQL's props, whose typings are not installed.
    clientConfig: clientConfig as unknown as RuruServer.RuruClientConfig,
    htmlParts: { titleTag: `<title>${escapeHtml(options.title ?? 'Patron GraphiQL')}</title>` },
  });
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
};

let assetNames: Set<string> | null = null;
const assetCache = new Map<string, GraphiqlAsset>();

function staticDir(): string {
  // `ruru/package.json` is not exported, so locate the package from its main entry (dist/index.js).
  return path.join(path.dirname(require.resolve('ruru')), '..', 'static');
}

/** Only files that exist in ruru's static folder are served, so a crafted path cannot escape it. */
function knownAssets(): Set<string> {
  if (!assetNames) {
    assetNames = new Set(readdirSync(staticDir()).filter((name) => path.extname(name) in CONTENT_TYPES));
  }
  return assetNames;
}

/**
 * The asset for a request path under `assetPrefix` (query string ignored), or null when the
 * path is outside the prefix or names no asset. Source maps are not served.
 */
export function serveGraphiqlAsset(urlPath: string, assetPrefix: string = GRAPHIQL_ASSET_PREFIX): GraphiqlAsset | null {
  const prefix = normalizePrefix(assetPrefix);
  const pathname = stripQuery(urlPath);
  if (!pathname.startsWith(prefix)) return null;
  const name = pathname.slice(prefix.length);
  if (!knownAssets().has(name)) return null;
  let asset = assetCache.get(name);
  if (!asset) {
    const body = readFileSync(path.join(staticDir(), name));
    const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
    asset = { contentType: CONTENT_TYPES[path.extname(name)], body, etag };
    assetCache.set(name, asset);
  }
  return asset;
}

const compressedCache = new Map<string, Buffer>();

function compressed(asset: GraphiqlAsset, encoding: 'br' | 'gzip'): Buffer {
  const key = `${encoding}:${asset.etag}`;
  let body = compressedCache.get(key);
  if (!body) {
    // Quality 5 keeps the one-off cost small (ruru.js is ~1.2 MB) while still shrinking ~5x.
    body =
      encoding === 'br'
        ? brotliCompressSync(asset.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } })
        : gzipSync(asset.body, { level: 6 });
    compressedCache.set(key, body);
  }
  return body;
}

/**
 * A plain Node `http` handler: GET/HEAD of the GraphQL endpoint that accepts `text/html` gets the
 * page, GET/HEAD under the asset prefix gets an asset (or 404). Returns false for anything else,
 * so the caller passes the request on to the GraphQL server.
 */
export function createGraphiqlHandler(options: GraphiqlPageOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const assetPrefix = normalizePrefix(options.assetPrefix ?? GRAPHIQL_ASSET_PREFIX);
  const endpointPath = new URL(options.endpoint, 'http://localhost').pathname;
  const page = Buffer.from(graphiqlPage({ ...options, assetPrefix }));

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = stripQuery(req.url ?? '/');

    if (pathname === endpointPath) {
      if (!(req.headers.accept ?? '').includes('text/html')) return false;
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(page.length),
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : page);
      return true;
    }

    if (!pathname.startsWith(assetPrefix)) return false;
    const asset = serveGraphiqlAsset(pathname, assetPrefix);
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found');
      return true;
    }
    const common = {
      etag: asset.etag,
      vary: 'Accept-Encoding',
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
    };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, common);
      res.end();
      return true;
    }
    const accepted = String(req.headers['accept-encoding'] ?? '');
    const encoding = /\bbr\b/.test(accepted) ? 'br' : /\bgzip\b/.test(accepted) ? 'gzip' : null;
    const body = encoding ? compressed(asset, encoding) : asset.body;
    res.writeHead(200, {
      ...common,
      'content-type': asset.contentType,
      'content-length': String(body.length),
      ...(encoding ? { 'content-encoding': encoding } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function normalizePrefix(prefix: string): string {
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
    throw new Error(`GraphiQL asset prefix must start and end with "/": ${prefix}`);
  }
  return prefix;
}

function stripQuery(urlPath: string): string {
  const queryStart = urlPath.search(/[?#]/);
  return queryStart >= 0 ? urlPath.slice(0, queryStart) : urlPath;
}

function escapeHtml(text: string): string {
  return text.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c] as string);
}
