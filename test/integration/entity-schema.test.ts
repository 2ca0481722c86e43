import type { EntityMetadata, EntityProperty } from '@mikro-orm/core';
import { ReferenceKind } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { entities, openOrm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Entities and migrations cannot drift: every table of the migrated schema has an entity, and
 * every entity property is a column of its table with the same type, nullability and default.
 * On failure, change the entity (or write a migration) until both say the same.
 */

interface Column {
  table: string;
  column: string;
  type: string;
  nullable: boolean;
  default: string | null;
  generated: boolean;
}

/** Tables no entity maps: the migrator's own bookkeeping. */
const UNMAPPED = new Set(['mikro_orm_migrations']);

/** One spelling per type: information_schema's udt names and MikroORM's column types differ. */
function canonicalType(type: string): string {
  const t = type.toLowerCase().replace(/\(\d+(,\s*\d+)?\)/, '').trim();
  const names: Record<string, string> = {
    int: 'integer', int4: 'integer', integer: 'integer',
    int8: 'bigint', bigint: 'bigint', bigserial: 'bigint', serial: 'integer', int2: 'smallint', smallint: 'smallint',
    bool: 'boolean', boolean: 'boolean',
    timestamptz: 'timestamptz', 'timestamp with time zone': 'timestamptz',
    _text: 'text[]', 'text[]': 'text[]',
  };
  return names[t] ?? t;
}

/** A default as text without casts or quotes: `'{}'::jsonb` and `{}` are the same default. */
function canonicalDefault(value: unknown): string | null {
  if (value == null) return null;
  let text = String(value).trim();
  for (;;) {
    const stripped = text.replace(/::[a-z_ ]+(\[\])?$/i, '');
    if (stripped === text) break;
    text = stripped;
  }
  if (/^'.*'$/s.test(text)) text = text.slice(1, -1).replace(/''/g, "'");
  return text;
}

/** An entity's own initial value (a field initializer), as a database default would print it. */
function initialAsDefault(value: unknown): string | null {
  if (value == null) return null;
  if (value instanceof Date) return 'now()';
  if (Array.isArray(value) || typeof value === 'object') return JSON.stringify(value).replace(/^\[\]$/, '{}');
  return String(value);
}

let db: TestDatabase;
let orm: MikroORM;
let columns: Map<string, Map<string, Column>>;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url, 2);
  const client = new Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query(
    `select c.table_name, c.column_name, c.udt_name, c.data_type, c.is_nullable, c.column_default, c.is_identity
     from information_schema.columns c join information_schema.tables t using (table_schema, table_name)
     where c.table_schema = 'public' and t.table_type = 'BASE TABLE'`,
  );
  await client.end();
  columns = new Map();
  for (const r of rows) {
    const table = columns.get(r.table_name) ?? new Map<string, Column>();
    const generated = r.is_identity === 'YES' || String(r.column_default ?? '').startsWith('nextval(');
    table.set(r.column_name, {
      table: r.table_name,
      column: r.column_name,
      type: canonicalType(r.data_type === 'USER-DEFINED' ? r.udt_name : r.udt_name),
      nullable: r.is_nullable === 'YES',
      default: generated ? null : canonicalDefault(r.column_default),
      generated,
    });
    columns.set(r.table_name, table);
  }
});

afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

const mapped = (): EntityMetadata[] => Object.values(orm.getMetadata().getAll()).filter((m) => !m.embeddable && !m.virtual && !m.abstract);

/** Properties that are columns of the entity's own table. */
function columnProps(meta: EntityMetadata): EntityProperty[] {
  return meta.props.filter(
    (p) =>
      p.persist !== false &&
      (p.kind === ReferenceKind.SCALAR || p.kind === ReferenceKind.MANY_TO_ONE || (p.kind === ReferenceKind.ONE_TO_ONE && p.owner)),
  );
}

test('every entity of the ORM config is registered, and every table has an entity', () => {
  const metas = mapped();
  expect(metas.map((m) => m.className).sort()).toEqual(entities.map((e) => e.name).sort());
  const tables = new Set(metas.map((m) => m.tableName));
  expect([...columns.keys()].filter((t) => !UNMAPPED.has(t) && !tables.has(t)).sort()).toEqual([]);
});

test('every entity matches its table: columns, types, nullability, defaults', () => {
  const problems: string[] = [];
  for (const meta of mapped()) {
    const table = columns.get(meta.tableName);
    if (!table) {
      problems.push(`${meta.className}: no table ${meta.tableName}`);
      continue;
    }
    const seen = new Set<string>();
    for (const prop of columnProps(meta)) {
      prop.fieldNames.forEach((field, i) => {
        seen.add(field);
        const column = table.get(field);
        const where = `${meta.className}.${prop.name} (${meta.tableName}.${field})`;
        if (!column) return void problems.push(`${where}: no such column`);
        const type = canonicalType(prop.columnTypes[i] ?? prop.columnTypes[0]);
        if (type !== column.type) problems.push(`${where}: entity type ${type}, column type ${column.type}`);
        if (Boolean(prop.nullable) !== column.nullable) {
          problems.push(`${where}: entity ${prop.nullable ? 'nullable' : 'not null'}, column ${column.nullable ? 'nullable' : 'not null'}`);
        }
        if (Boolean(prop.autoincrement) !== column.generated) {
          problems.push(`${where}: entity ${prop.autoincrement ? '' : 'not '}generated, column ${column.generated ? '' : 'not '}generated`);
        }
        const declared = canonicalDefault(prop.defaultRaw ?? prop.default);
        if (declared !== column.default) problems.push(`${where}: entity default ${declared}, column default ${column.default}`);
      });
    }
    for (const field of table.keys()) {
      if (!seen.has(field)) problems.push(`${meta.className}: column ${meta.tableName}.${field} has no property`);
    }
  }
  expect(problems).toEqual([]);
});

test("an entity's field initializers are its table's defaults", () => {
  const problems: string[] = [];
  for (const meta of mapped()) {
    // Entities whose constructor takes arguments set every column there, checked by their own tests.
    if (meta.class.length > 0) continue;
    const table = columns.get(meta.tableName)!;
    const fresh = new (meta.class as new () => Record<string, unknown>)();
    for (const prop of columnProps(meta)) {
      if (prop.primary || prop.kind !== ReferenceKind.SCALAR) continue;
      const initial = initialAsDefault(fresh[prop.name]);
      const column = table.get(prop.fieldNames[0]);
      if (initial !== null && column && initial !== column.default) {
        problems.push(`${meta.className}.${prop.name}: starts as ${initial}, column default ${column.default}`);
      }
    }
  }
  expect(problems).toEqual([]);
});
