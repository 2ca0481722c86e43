/**
 * The balance query's baseline: a raw `node:http` + `pg` handler doing the same read — parse
 * the JSON body, read the member's account by a prepared statement, answer the same JSON — with
 * no GraphQL, no authentication, no ORM. Run as a child process by bench/run.ts
 * (`startRawRead`); DATABASE_URL and BENCH_PROGRAM_ID come from its environment.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { forkReady, type Started } from './servers';

const READ = 'select available from account where member_id = $1 and program_id = $2';

export function startRawRead(databaseUrl: string, programId: string): Promise<Started> {
  return forkReady('bench/raw-read.ts', { ...process.env, DATABASE_URL: databaseUrl, BENCH_PROGRAM_ID: programId });
}

async function main(): Promise<void> {
  const { serveChild } = await import('./servers');
  const programId = process.env.BENCH_PROGRAM_ID!;
  // As many connections as Patron's pool by default.
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.BENCH_DB_POOL_MAX ?? 20) });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      let id: unknown;
      try {
        id = JSON.parse(Buffer.concat(chunks).toString()).variables?.id;
      } catch {
        return answer(400, { errors: [{ message: 'bad JSON' }] });
      }
      pool.query({ name: 'raw-read', text: READ, values: [id, programId] }).then(
        ({ rows }) => answer(200, { data: { account: rows[0] ? { available: Number(rows[0].available) } : null } }),
        (error) => answer(500, { errors: [{ message: String(error.message) }] }),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serveChild((server.address() as AddressInfo).port, async () => {
    server.close();
    await pool.end();
  });
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
