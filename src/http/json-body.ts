import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';

/** Why a request body was refused; the status says which (400, 413 or 415). */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** `application/json`, with or without parameters, any case. */
const JSON_TYPE = /^application\/json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/**
 * The body of a JSON request, parsed, or undefined when there is none or it is not declared JSON
 * (then Apollo answers: its CSRF prevention, or "POST body missing, invalid Content-Type").
 * Refuses, before anything is parsed: a charset other than UTF-8 and a compressed body (415), and
 * more than `limit` bytes (413) — a declared length over it before reading a byte. A body that is
 * not valid UTF-8, or not a JSON object or array, is 400. The body is not read at all when it
 * will not be used, and Node discards it after the answer.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) return Promise.resolve(undefined);
  const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return Promise.reject(new BodyError(415, `Unsupported charset "${charset}"; send UTF-8`));
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return Promise.reject(new BodyError(415, `Unsupported content encoding "${encoding}"; send the body uncompressed`));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyError(413, 'Request body too large'));

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        // A chunked body that grows past the limit: stop keeping it, and let the rest drain away.
        req.off('data', onData);
        req.off('end', onEnd);
        chunks.length = 0;
        reject(new BodyError(413, 'Request body too large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      try {
        resolve(parse(utf8(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))));
      } catch (error) {
        reject(error);
      }
    };
    req.on('data', onData);
    req.on('end', onEnd);
    // The client went away mid-body: its doing, answered (to nobody) as a bad request, not logged as ours.
    req.on('error', () => reject(new BodyError(400, 'Request body incomplete')));
  });
}

/**
 * The body as text, refused (400) unless it is valid UTF-8: decoding replaces each invalid byte
 * with U+FFFD, so two idempotency keys that differ only there would become one key, and the
 * second write would replay the first's answer instead of being made.
 */
function utf8(body: Buffer): string {
  if (!isUtf8(body)) throw new BodyError(400, 'Malformed request body: not valid UTF-8');
  return body.toString('utf8');
}

/** Space, tab, line feed, carriage return: the whitespace JSON allows. */
const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** A JSON object or array, as express.json's strict mode read it; a leading BOM is dropped. */
function parse(text: string): unknown {
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let at = 0;
  while (at < json.length && JSON_WHITESPACE.has(json.charCodeAt(at))) at++;
  if (at === json.length) return undefined;
  const first = json.charCodeAt(at);
  if (first !== 0x7b && first !== 0x5b) throw new BodyError(400, 'Malformed request body: expected a JSON object');
  try {
    return JSON.parse(json);
  } catch {
    throw new BodyError(400, 'Malformed request body: not valid JSON');
  }
}
