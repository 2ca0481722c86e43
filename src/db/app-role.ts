import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * The application runs as a login role that owns nothing; migrations run as the owner (the role
 * in DATABASE_URL). The owner's tables, triggers and functions are out of the application's reach:
 * it cannot drop or disable the ledger's append-only trigger, cannot set
 * `session_replication_role` (superusers only), cannot truncate, and has no UPDATE or DELETE on
 * the append-only tables at all — so the ledger holds even against the application's own
 * connection.
 *
 * Which role: `PATRON_APP_DATABASE_URL` when given (a role someone else manages; the owner only
 * grants it privileges), otherwise `<owner>_app` (e.g. `patron_app`), which the owner creates and
 * keeps — so the owner needs CREATEROLE (the embedded server's owner is a superuser). Its password
 * is derived from the owner's password, so every instance and every database of the cluster
 * agrees on it without storing it anywhere.
 */

/** Tables the application deletes from (the relay prunes published outbox rows); nothing else. */
const DELETES_FROM = ['outbox', 'outbox_unpublished'];
/** Append-only or immutable tables: inserted and read, never updated (their triggers agree). */
const NEVER_UPDATED = ['ledger_entry', 'lot_allocation', 'rule_version'];
/** The owner's own bookkeeping: nothing for the application. */
const OWNER_ONLY = ['mikro_orm_migrations'];

/** Serializes grants of instances starting at once on one database (GRANT rewrites catalog rows). */
const GRANT_LOCK = `select pg_advisory_xact_lock(hashtext('patron:app-role'))`;

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The role the application connects as, unless PATRON_APP_DATABASE_URL names another. */
function appRoleName(ownerUrl: string): string {
  return `${decodeURIComponent(new URL(ownerUrl).username) || 'patron'}_app`.slice(0, 63);
}

/** The derived role's password: a function of the owner's credentials, so nothing stores it. */
function derivedPassword(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  return createHash('sha256').update(`patron-app-role\0${decodeURIComponent(url.username)}\0${decodeURIComponent(url.password)}`).digest('base64url');
}

/** The owner's URL with the application role's name and password. */
function derivedAppUrl(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  url.username = encodeURIComponent(appRoleName(ownerUrl));
  url.password = encodeURIComponent(derivedPassword(ownerUrl));
  return url.toString();
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const codeOf = (error: unknown) => (error as { code?: string }).code;

/**
 * Creates the derived role when missing (several instances, or several databases of one cluster,
 * may try at once: the loser's duplicate error is fine).
 */
async function ensureDerivedRole(ownerUrl: string, role: string): Promise<void> {
  await withClient(ownerUrl, async (c) => {
    const { rows } = await c.query<{ n: number }>('select 1 as n from pg_roles where rolname = $1', [role]);
    if (rows.length > 0) return;
    try {
      await c.query(`create role ${ident(role)} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit password ${literal(derivedPassword(ownerUrl))}`);
    } catch (error) {
      if (codeOf(error) === '42501') {
        throw new Error(`The database owner cannot create the application role ${role}: give it CREATEROLE, or create a role yourself and set PATRON_APP_DATABASE_URL`);
      }
      // Another start created it a moment ago.
      if (codeOf(error) !== '42710' && codeOf(error) !== '23505') throw error;
    }
  });
}

/**
 * Sets the derived role's password only when logging in with the derived one fails (the owner's
 * password changed), so concurrent starts do not rewrite the role's row.
 */
async function ensureDerivedPassword(ownerUrl: string, role: string): Promise<void> {
  const loggedIn = await withClient(derivedAppUrl(ownerUrl), async () => true).catch((error) => {
    if (codeOf(error) === '28P01' || codeOf(error) === '28000') return false;
    throw error;
  });
  if (loggedIn) return;
  await withClient(ownerUrl, (c) => c.query(`alter role ${ident(role)} with login password ${literal(derivedPassword(ownerUrl))}`));
}

/** Grants exactly what the application needs on the schema the owner migrated; run after every migration. */
async function grantAppPrivileges(ownerUrl: string, role: string): Promise<void> {
  await withClient(ownerUrl, async (c) => {
    const { rows: [me] } = await c.query<{ owner: string; schema: string; database: string }>(
      'select current_user as owner, current_schema() as schema, current_database() as database');
    if (me.owner === role) throw new Error(`The application role (${role}) must not be the schema owner: give PATRON_APP_DATABASE_URL another role`);
    const { rows: [app] } = await c.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'select rolsuper, rolbypassrls from pg_roles where rolname = $1', [role]);
    if (!app) throw new Error(`The application role ${role} does not exist`);
    if (app.rolsuper || app.rolbypassrls) throw new Error(`The application role ${role} is a superuser: give it NOSUPERUSER NOBYPASSRLS`);
    const r = ident(role);
    const s = ident(me.schema);
    const o = ident(me.owner);
    const tables = async (names: string[]) => {
      const { rows } = await c.query<{ name: string }>(
        'select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = any($2)',
        [me.schema, names]);
      return rows.map((t) => `${s}.${ident(t.name)}`);
    };
    await c.query('begin');
    try {
      await c.query(GRANT_LOCK);
      await c.query(`grant connect, temporary on database ${ident(me.database)} to ${r}`);
      await c.query(`grant usage on schema ${s} to ${r}`);
      await c.query(`revoke create on schema ${s} from ${r}`);
      // Everything there now (re-run on every start, so tables of later migrations are covered) …
      await c.query(`revoke all on all tables in schema ${s} from ${r}`);
      await c.query(`grant select, insert, update on all tables in schema ${s} to ${r}`);
      await c.query(`grant usage, select on all sequences in schema ${s} to ${r}`);
      await c.query(`grant execute on all functions in schema ${s} to ${r}`);
      // … and what the owner creates later (a migration run by another instance before this one restarts).
      await c.query(`alter default privileges for role ${o} in schema ${s} grant select, insert, update on tables to ${r}`);
      await c.query(`alter default privileges for role ${o} in schema ${s} grant usage, select on sequences to ${r}`);
      await c.query(`alter default privileges for role ${o} in schema ${s} grant execute on functions to ${r}`);
      for (const t of await tables(DELETES_FROM)) await c.query(`grant delete on ${t} to ${r}`);
      for (const t of await tables(NEVER_UPDATED)) await c.query(`revoke update on ${t} from ${r}`);
      for (const t of await tables(OWNER_ONLY)) await c.query(`revoke all on ${t} from ${r}`);
      await c.query('commit');
    } catch (error) {
      await c.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * After migrating as the owner: makes sure the application's role exists and has its grants, and
 * returns the URL the application connects with.
 */
export async function prepareAppRole(ownerUrl: string, appUrl?: string): Promise<string> {
  if (appUrl) {
    const role = decodeURIComponent(new URL(appUrl).username);
    if (!role) throw new Error('PATRON_APP_DATABASE_URL must name a user');
    await grantAppPrivileges(ownerUrl, role);
    return appUrl;
  }
  const role = appRoleName(ownerUrl);
  await ensureDerivedRole(ownerUrl, role);
  await grantAppPrivileges(ownerUrl, role);
  await ensureDerivedPassword(ownerUrl, role);
  return derivedAppUrl(ownerUrl);
}
