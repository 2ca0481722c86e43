import { z } from 'zod';

/**
 * The one typed configuration object, read from the environment and validated at start.
 * A bad value stops the process with a message naming the variable.
 */
const boolFlag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  /** The role the application connects as; unset → `<owner>_app`, created by the owner (see src/db/app-role.ts). */
  PATRON_APP_DATABASE_URL: z.string().url().optional(),
  /** Where the embedded PostgreSQL keeps its files when DATABASE_URL is unset. */
  PATRON_DATA_DIR: z.string().default('.data'),
  /** The embedded PostgreSQL gets its own port so it never meets a system server on 5432. */
  PATRON_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  PATRON_ADMIN_KEY: z.string().min(24, 'PATRON_ADMIN_KEY must be at least 24 characters').optional(),
  /** Secret for customer tokens; generated once and kept in the database when unset. */
  PATRON_TOKEN_SECRET: z.string().min(32, 'PATRON_TOKEN_SECRET must be at least 32 characters').optional(),
  PATRON_CUSTOMER_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86400).default(900),
  /** Production hardening can be relaxed one switch at a time. */
  PATRON_INTROSPECTION: boolFlag,
  PATRON_GRAPHIQL: boolFlag,
  PATRON_JOBS: z.enum(['on', 'off']).default('on'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PATRON_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(20),
  /** Longest a single statement may run (0: no limit); a longer one fails with SERVICE_UNAVAILABLE. */
  PATRON_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** Longest a transaction may sit idle holding its locks before PostgreSQL ends the session (0: no limit). */
  PATRON_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /** Browser origins allowed to call the API (HTTP and WebSocket), comma-separated; `*` for any. */
  PATRON_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every((o) => o === '*' || isOrigin(o)), 'PATRON_CORS_ORIGINS must list origins such as https://shop.example, comma-separated'),
  /** Referrer website verification may fetch from loopback and private addresses (tests, intranets). */
  PATRON_REFERRAL_ALLOW_PRIVATE_HOSTS: boolFlag,
  /** Failed authentications per client address and minute before it gets RATE_LIMITED (0: no limit). */
  PATRON_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(30),
  /** Requests per API key (or customer) and minute before RATE_LIMITED (0: no limit). */
  PATRON_REQUESTS_PER_KEY_PER_MINUTE: z.coerce.number().int().min(0).max(100_000_000).default(60_000),
  /** Behind one reverse proxy: the client address is the last X-Forwarded-For entry. */
  PATRON_TRUST_PROXY: boolFlag,
  /** How far back a start catches up the scheduled runs no instance made, in hours (0: not at all). */
  PATRON_JOB_CATCH_UP_HOURS: z.coerce.number().int().min(0).max(24 * 366).default(48),
  /** Events between instances through Redis pub/sub instead of PostgreSQL LISTEN/NOTIFY. */
  PATRON_REDIS_URL: z
    .string()
    .optional()
    .transform((v) => v?.trim() || undefined)
    .refine((v) => v === undefined || /^rediss?:\/\/[^/]/.test(v), 'PATRON_REDIS_URL must be a redis:// or rediss:// URL'),
  /** Prefix of the Redis channels; instances that share events use the same one. */
  PATRON_REDIS_CHANNEL_PREFIX: z.string().min(1).max(100).default('patron:'),
});

/** `scheme://host[:port]` exactly as browsers send it in `Origin`: no path, no trailing slash. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  databaseUrl?: string;
  /** The application's own, unprivileged connection; DATABASE_URL's role only migrates. */
  appDatabaseUrl?: string;
  dataDir: string;
  embeddedPgPort: number;
  adminKey?: string;
  tokenSecret?: string;
  customerTokenTtlSeconds: number;
  introspection: boolean;
  graphiql: boolean;
  jobs: boolean;
  logLevel: string;
  dbPoolMax: number;
  dbStatementTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  /** Empty: no CORS headers, WebSocket upgrades from any origin. */
  corsOrigins: string[];
  referralAllowPrivateHosts: boolean;
  authFailuresPerMinute: number;
  requestsPerKeyPerMinute: number;
  trustProxy: boolean;
  jobCatchUpHours: number;
  /** Unset: events travel between instances over LISTEN/NOTIFY. */
  redisUrl?: string;
  redisChannelPrefix: string;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    appDatabaseUrl: e.PATRON_APP_DATABASE_URL,
    dataDir: e.PATRON_DATA_DIR,
    embeddedPgPort: e.PATRON_EMBEDDED_PG_PORT,
    adminKey: e.PATRON_ADMIN_KEY,
    tokenSecret: e.PATRON_TOKEN_SECRET,
    customerTokenTtlSeconds: e.PATRON_CUSTOMER_TOKEN_TTL_SECONDS,
    introspection: production ? e.PATRON_INTROSPECTION : true,
    graphiql: production ? e.PATRON_GRAPHIQL : true,
    jobs: e.PATRON_JOBS === 'on',
    logLevel: e.LOG_LEVEL,
    dbPoolMax: e.PATRON_DB_POOL_MAX,
    dbStatementTimeoutMs: e.PATRON_DB_STATEMENT_TIMEOUT_MS,
    dbIdleInTransactionTimeoutMs: e.PATRON_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    corsOrigins: e.PATRON_CORS_ORIGINS,
    referralAllowPrivateHosts: e.PATRON_REFERRAL_ALLOW_PRIVATE_HOSTS,
    authFailuresPerMinute: e.PATRON_AUTH_FAILURES_PER_MINUTE,
    requestsPerKeyPerMinute: e.PATRON_REQUESTS_PER_KEY_PER_MINUTE,
    trustProxy: e.PATRON_TRUST_PROXY,
    jobCatchUpHours: e.PATRON_JOB_CATCH_UP_HOURS,
    redisUrl: e.PATRON_REDIS_URL,
    redisChannelPrefix: e.PATRON_REDIS_CHANNEL_PREFIX,
  };
}
