import Database from 'better-sqlite3';
import type pg from 'pg';
import { createPool, migrate, transaction } from './postgres/database.js';
import { assertMigrated as assertSqliteMigrated } from './sqlite/database.js';
import { TABLES as STORE_TABLES } from './tables.js';
import type { Column } from '../lib/table.js';

type Value = string | number | boolean | null;
type Convert = (value: unknown) => Value;

const asIs: Convert = (v) => v as Value;
/** SQLite keeps booleans as 0/1. */
const bool: Convert = (v) => (v === null ? null : v === 1 || v === true);
/** SQLite keeps JSON as text; PostgreSQL parses it into jsonb (the parameter is cast). */
const json: Convert = (v) => (v === null ? null : String(v));

interface CopiedColumn {
  name: string;
  convert: Convert;
  /** Cast applied to the parameter, e.g. `jsonb`. */
  cast?: string;
}

interface CopiedTable {
  name: string;
  columns: CopiedColumn[];
  /** Source order, so the copy is deterministic (primary key). */
  orderBy: string;
  /** Columns the target generates itself (identities), not copied. */
  generated: string[];
}

/** How a column of each type goes from SQLite to PostgreSQL. */
function copied(c: Column): CopiedColumn {
  // Leases belong to the stopped embedded server: the work is due for whichever worker comes first.
  if (c.role === 'lease') return { name: c.name, convert: () => null };
  if (c.type === 'boolean') return { name: c.name, convert: bool };
  if (c.type === 'json') return { name: c.name, convert: json, cast: 'jsonb' };
  return { name: c.name, convert: asIs };
}

/**
 * The tables copied (the state and history tables of ./tables.ts, in its order: parents before children,
 * so foreign keys hold at each insert). The copy verifies row counts, and refuses a source column this
 * list lacks.
 */
export const TABLES: readonly CopiedTable[] = STORE_TABLES.filter(
  (t) => t.role === 'state' || t.role === 'history',
).map((t) => ({
  name: t.name,
  columns: t.columns.filter((c) => c.role !== 'generated').map(copied),
  orderBy: t.key.join(', '),
  generated: t.columns.filter((c) => c.role === 'generated').map((c) => c.name),
}));

/**
 * Tables the target's own triggers fill while the tables above are copied: copied rows would collide, so
 * they are compared instead (same row count on both sides).
 */
export const DERIVED_TABLES: readonly string[] = STORE_TABLES.filter((t) => t.role === 'derived').map(
  (t) => t.name,
);

/** Tables not copied at all: transient request counters (`--rate-limit`) start empty on the target. */
export const TRANSIENT_TABLES: readonly string[] = STORE_TABLES.filter((t) => t.role === 'transient').map(
  (t) => t.name,
);

/**
 * Refuses a source holding a table or column the copy does not know (a newer schema, or TABLES not kept
 * in step with a migration), so nothing is silently left behind.
 */
export function assertCopiesEverything(source: Database.Database): void {
  const known = new Map(
    TABLES.map((t) => [t.name, new Set([...t.columns.map((c) => c.name), ...t.generated])]),
  );
  const tables = source
    .prepare(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
       AND name <> 'schema_migrations' ORDER BY name`,
    )
    .all() as { name: string }[];
  const missing: string[] = [];
  for (const { name } of tables) {
    const columns = known.get(name);
    if (DERIVED_TABLES.includes(name) || TRANSIENT_TABLES.includes(name)) continue;
    if (!columns) {
      missing.push(`table ${name}`);
      continue;
    }
    const actual = source.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[];
    for (const c of actual) if (!columns.has(c.name)) missing.push(`column ${name}.${c.name}`);
  }
  if (missing.length > 0) {
    throw new Error(`this rshare version does not know how to copy ${missing.join(', ')}`);
  }
}

/** Rows per INSERT: well under PostgreSQL's 65,535 bind parameters. */
const BATCH_PARAMS = 30_000;

export type CopyCounts = Record<string, number>;

function insertSql(table: CopiedTable, rows: number): string {
  const names = table.columns.map((c) => c.name).join(', ');
  let n = 0;
  const tuples = Array.from(
    { length: rows },
    () => `(${table.columns.map((c) => `$${++n}${c.cast ? `::${c.cast}` : ''}`).join(', ')})`,
  );
  return `INSERT INTO ${table.name} (${names}) VALUES ${tuples.join(', ')}`;
}

async function refuseNonEmpty(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string; n: number }>(
    TABLES.map((t, i) => `SELECT ${i} AS i, '${t.name}' AS name, COUNT(*) AS n FROM ${t.name}`).join(
      ' UNION ALL ',
    ) + ' ORDER BY i',
  );
  const filled = rows.filter((r) => r.n > 0);
  if (filled.length > 0) {
    throw new Error(
      `the target database is not empty (${filled.map((r) => `${r.name}: ${r.n} rows`).join(', ')}); ` +
        'migrate-store only copies into an empty database',
    );
  }
}

async function copyTable(
  source: Database.Database,
  client: pg.PoolClient,
  table: CopiedTable,
): Promise<number> {
  const select = source.prepare(
    `SELECT ${table.columns.map((c) => c.name).join(', ')} FROM ${table.name} ORDER BY ${table.orderBy}`,
  );
  const perBatch = Math.max(1, Math.floor(BATCH_PARAMS / table.columns.length));
  let batch: Value[] = [];
  let inBatch = 0;
  let copied = 0;
  const flush = async () => {
    if (inBatch === 0) return;
    await client.query(insertSql(table, inBatch), batch);
    copied += inBatch;
    batch = [];
    inBatch = 0;
  };
  // The iterator keeps the SQLite connection busy; nothing else uses it until the loop ends.
  for (const row of select.iterate() as Iterable<Record<string, unknown>>) {
    for (const c of table.columns) batch.push(c.convert(row[c.name]));
    if (++inBatch === perBatch) await flush();
  }
  await flush();
  const { rows } = await client.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table.name}`);
  if (rows[0]?.n !== copied) {
    throw new Error(`${table.name}: copied ${copied} rows but the target holds ${rows[0]?.n ?? 0}`);
  }
  return copied;
}

async function compareDerived(source: Database.Database, client: pg.PoolClient, name: string): Promise<void> {
  const expected = (source.prepare(`SELECT COUNT(*) AS n FROM ${name}`).get() as { n: number }).n;
  const { rows } = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${name}`);
  const actual = Number(rows[0]?.n ?? 0);
  if (actual !== expected)
    throw new Error(`${name}: the source holds ${expected} rows, the target ${actual}`);
}

/**
 * Copies an embedded (SQLite) store into a PostgreSQL database: migrates the target, refuses it unless
 * every table is empty, then copies every table in dependency order inside one transaction (all or
 * nothing), reading one consistent snapshot of the source. Returns the rows copied per table.
 */
export async function copyStore(sqlitePath: string, postgresUrl: string): Promise<CopyCounts> {
  if (!/^postgres(ql)?:\/\//i.test(postgresUrl)) {
    throw new Error(`--to must be a postgres:// or postgresql:// URL, not ${JSON.stringify(postgresUrl)}`);
  }
  const path = sqlitePath.startsWith('sqlite:') ? sqlitePath.slice('sqlite:'.length) : sqlitePath;
  let source: Database.Database;
  try {
    source = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open the SQLite store ${path}: ${(err as Error).message}`, { cause: err });
  }
  // An offline bulk copy: no per-statement bound (a request's would cut a large table short).
  const pool = createPool(postgresUrl, { max: 1, queryTimeoutMs: 0 });
  try {
    try {
      assertSqliteMigrated(source);
    } catch (err) {
      throw new Error(
        `the SQLite store ${path} is not at the current schema (${(err as Error).message}); ` +
          'start this rshare version on it once, stop it, then copy',
        { cause: err },
      );
    }
    assertCopiesEverything(source);
    await migrate(pool);
    // One read transaction: every table comes from the same snapshot even if something writes meanwhile.
    source.exec('BEGIN');
    try {
      const counts = await transaction(pool, async (client) => {
        // Nobody writes to the target until the copy commits (reads still work).
        await client.query(`LOCK TABLE ${TABLES.map((t) => t.name).join(', ')} IN EXCLUSIVE MODE`);
        await refuseNonEmpty(client);
        const counts: CopyCounts = {};
        for (const table of TABLES) counts[table.name] = await copyTable(source, client, table);
        for (const name of DERIVED_TABLES) await compareDerived(source, client, name);
        return counts;
      });
      // A bulk-loaded database has no planner statistics until autovacuum comes round: gather them now,
      // so the first requests on the new store use its indexes.
      await pool.query('ANALYZE');
      return counts;
    } finally {
      source.exec('COMMIT');
    }
  } finally {
    source.close();
    await pool.end();
  }
}
