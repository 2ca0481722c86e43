import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { OPERATOR_KEY, type GraphQLResponse } from './server';

const ROOT = path.resolve(__dirname, '../..');

/** `npm start` as a separate process (through swc, no build step), for tests that kill it. */
export interface ServerProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  origin: string;
  /** Every line the process wrote to stdout and stderr. */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  request<T, V>(doc: TypedDocumentNode<T, V> | string, variables?: V, auth?: string | null): Promise<GraphQLResponse<T>>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts src/main.ts with the given environment (jobs off, a free port, the test operator key)
 * and resolves once it logged 'Patron is ready'; rejects with its output if it exits first.
 */
export async function spawnServer(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      PATRON_ADMIN_KEY: OPERATOR_KEY,
      PATRON_JOBS: 'off',
      // Bursts of thousands of writes with one key: the rate limits have their own suite.
      PATRON_REQUESTS_PER_KEY_PER_MINUTE: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve((exit = { code, signal }))),
  );
  let onLine: (line: string) => void = () => undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        output.push(line);
        onLine(line);
      }
    });
  }
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    onLine = (line) => {
      const ready = /"msg":"Patron is ready"/.test(line) && /"url":"http:\/\/localhost:(\d+)\/graphql"/.exec(line);
      if (ready) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${ready[1]}/graphql`);
      }
    };
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${JSON.stringify(e)}) before it was ready:\n${output.join('\n')}`));
    });
  });
  const alive = () => exit === undefined;
  return {
    child,
    url,
    origin: new URL(url).origin,
    output,
    exited,
    alive,
    request: (doc, variables, auth = OPERATOR_KEY) => graphql(url, doc, variables, auth),
    async stop() {
      if (alive()) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** One GraphQL request over HTTP; a transport failure rejects. */
export async function graphql<T, V>(url: string, doc: TypedDocumentNode<T, V> | string, variables?: V, auth: string | null = OPERATOR_KEY): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify({ query: typeof doc === 'string' ? doc : print(doc), variables }),
  });
  const text = await res.text();
  let body: GraphQLResponse<T>;
  try {
    body = JSON.parse(text) as GraphQLResponse<T>;
  } catch {
    body = { status: res.status, errors: [{ message: text }] };
  }
  return { ...body, status: res.status };
}
