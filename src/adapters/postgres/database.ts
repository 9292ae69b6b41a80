import { createHash } from 'node:crypto';
import pg from 'pg';
import { loadMigrations, type Migration } from '../migrations.js';
import { isStoreUnavailable } from '../../lib/outage.js';
import type { PgPooler } from '../pooler.js';

/** Any key works as long as every rshare node uses the same one: "rshare" in ASCII. */
const MIGRATION_LOCK = 0x7273686172;

export type Queryable = pg.Pool | pg.PoolClient;

const TIMESTAMPTZ_OID = 1184;
const INT8_OID = 20;

/**
 * PostgreSQL prints `2023-09-21 18:56:32.624632+00` in the session's time zone (trailing zeros dropped);
 * the API speaks `2023-09-21T18:56:32.624632Z`. Parsing to Date would lose the microseconds. Behind a
 * transaction pooler the session's zone is whatever the server's default is (rshare cannot set it), so
 * any offset, `+05:30` or a historic `+00:53:28`, is converted here rather than assumed to be UTC.
 */
const UTC_TIMESTAMPTZ = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

export function formatTimestamptz(text: string): string {
  // A UTC session (the usual case) needs no date arithmetic: 200 of these per list page made a Date each.
  const utc = UTC_TIMESTAMPTZ.exec(text);
  if (utc) return `${utc[1]}T${utc[2]}.${(utc[3] ?? '').padEnd(6, '0')}Z`;
  const m =
    /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$/.exec(
      text,
    );
  if (!m) return new Date(text).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  const [, y, mo, d, h, mi, sec, frac, sign, oh, om, os] = m;
  const offsetSeconds =
    (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0));
  const localMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  const iso = new Date(localMs - offsetSeconds * 1000).toISOString(); // whole seconds: .000Z
  return `${iso.slice(0, 19)}.${(frac ?? '').padEnd(6, '0')}Z`;
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) return formatTimestamptz;
    // Counts and epoch milliseconds fit in a double.
    if (oid === INT8_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

const statementNames = new Map<string, string>();

/** `columns` (a comma-separated list) each prefixed with a table alias. */
export function prefixed(alias: string, columns: string): string {
  return columns
    .split(',')
    .map((c) => `${alias}.${c.trim()}`)
    .join(', ');
}

/**
 * A named prepared statement for a constant query: each connection parses and plans it once and then only
 * binds and executes it. The name is a hash of the text, so two texts never share a name (which `pg` would
 * reject) and every node derives the same one. Only for constant texts: dynamic ones would prepare (and
 * keep, per connection) one statement per variant. Name the columns rather than `SELECT *`: a prepared
 * statement whose result columns change (another node's migration adding one) fails on every run.
 */
export function named(text: string, values: unknown[] = []): pg.QueryConfig<unknown[]> {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `rs_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

export interface PoolOptions {
  /** Connections per process; see docs/postgresql.md, "Pool sizing". */
  max?: number;
  /** Longest wait for a connection (a new one, or a free one from a busy pool). */
  connectTimeoutMs?: number;
  /** Longest a statement may run (server side; the client gives up 1 s later). 0: no limit. */
  queryTimeoutMs?: number;
  /** Default `none`. */
  pooler?: PgPooler;
}

/**
 * Together they bound how long a request waits on a database that is gone, hung or overloaded: about 5 s
 * before it is answered 503 (see docs/postgresql.md, "Store outages"). Migrations are exempt (see `migrate`).
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
export const DEFAULT_QUERY_TIMEOUT_MS = 4000;
/** The client-side backstop for a server that stops answering altogether (its own timeout cannot fire). */
const CLIENT_GRACE_MS = 1000;
/** `pg` takes a falsy per-query timeout as "use the pool's": the longest timer Node has instead. */
const NO_TIMEOUT = 2 ** 31 - 1;

/**
 * A client that never names a statement. Behind a transaction pooler the next statement may reach a
 * server session that already holds the name (42P05) or never saw it (26000), so `named()` configs run
 * as unnamed ones: parsed on every run, which is the price of the pooler.
 */
class UnpreparedClient extends pg.Client {}
const clientQuery = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
Object.defineProperty(UnpreparedClient.prototype, 'query', {
  value(this: pg.Client, config: unknown, ...rest: unknown[]) {
    if (typeof config === 'object' && config !== null && 'name' in config) {
      const { name: _name, ...unnamed } = config as Record<string, unknown>;
      return clientQuery.call(this, unnamed, ...rest);
    }
    return clientQuery.call(this, config, ...rest);
  },
  // As a class method would be: code that wraps a client's `query` (tracing, tests) may still assign it.
  writable: true,
  configurable: true,
});

/** How `transaction` opens one on each pool: one string, so the statement bound costs no round trip. */
const beginStatement = new WeakMap<pg.Pool, string>();

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const pooler = options.pooler ?? 'none';
  // `query_timeout` is client-side (not a startup parameter): a backstop in every mode.
  const clientBound = queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs + CLIENT_GRACE_MS } : {};
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    types,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...clientBound,
    ...(pooler === 'none'
      ? {
          options: '-c TimeZone=UTC',
          application_name: 'rshare',
          ...(queryTimeoutMs > 0 ? { statement_timeout: queryTimeoutMs } : {}),
        }
      : {}),
    ...(pooler === 'transaction' ? { Client: UnpreparedClient } : {}),
    // A session pooler keeps one server session per connection for its life: the bound is set on it once,
    // before the pool hands the connection out (pg-pool's `onConnect`, which its types do not list yet).
    ...(pooler === 'session' && queryTimeoutMs > 0
      ? { onConnect: (client: pg.PoolClient) => client.query(`SET statement_timeout = ${queryTimeoutMs}`) }
      : {}),
  });
  // A transaction pooler keeps nothing between transactions: each one sets its own bound, and single
  // statements rely on the role's default, which `checkPoolerTimeout` verifies at start.
  beginStatement.set(
    pool,
    pooler === 'transaction' ? `BEGIN; SET LOCAL statement_timeout = ${queryTimeoutMs}` : 'BEGIN',
  );
  // An idle client that loses its connection must not crash the process; the pool replaces it, and
  // connects again on demand once the server is back.
  pool.on('error', () => {});
  return pool;
}

/**
 * Behind a transaction pooler a statement outside a transaction runs under the server session's default
 * `statement_timeout` (the role's or the database's), which rshare cannot set per session. It refuses to
 * start when that default is unbounded or looser than `--statement-timeout-ms`, rather than let a request
 * wait on a hung statement for ever.
 */
export async function checkPoolerTimeout(pool: pg.Pool, queryTimeoutMs: number): Promise<void> {
  if (queryTimeoutMs <= 0) return;
  const { rows } = await pool.query<{ ms: number; role: string }>(
    "SELECT setting::integer AS ms, current_user AS role FROM pg_settings WHERE name = 'statement_timeout'",
  );
  const ms = rows[0]?.ms ?? 0;
  if (ms > 0 && ms <= queryTimeoutMs) return;
  const role = rows[0]?.role ?? 'rshare';
  throw new Error(
    `behind a transaction pooler the server's default statement_timeout must be between 1 and ` +
      `${queryTimeoutMs} ms (the statement timeout), and it is ${ms === 0 ? 'unbounded' : `${ms} ms`}: ` +
      `run ALTER ROLE "${role}" SET statement_timeout = '${queryTimeoutMs}ms' on PostgreSQL`,
  );
}

/**
 * Runs `fn` in a transaction on one pooled connection, rolling back on any error. A COMMIT that fails
 * throws like any other statement, so a change is never reported done unless PostgreSQL confirmed it.
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no pool listener: a connection lost between two statements would otherwise
  // be an unhandled 'error' event and end the process. The statement that follows fails on its own.
  const onError = () => {};
  client.on('error', onError);
  let broken: unknown;
  try {
    await client.query(beginStatement.get(pool) ?? 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A lost or hung connection cannot roll back (the server does so when it goes), and must not return
    // to the pool with a statement still in flight.
    if (isStoreUnavailable(err)) broken = err;
    else await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock: nodes starting
 * together queue on the lock, and each finds the migrations the first one applied.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: Migration[] = loadMigrations('postgres'),
): Promise<number[]> {
  // A migration (or the wait for another node's) may rightly take longer than any request's bound.
  const unbounded = (text: string, values: unknown[] = []) => ({ text, values, query_timeout: NO_TIMEOUT });
  return transaction(pool, async (c) => {
    await c.query(unbounded('SET LOCAL statement_timeout = 0'));
    await c.query(unbounded('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]));
    await c.query(
      unbounded(`CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`),
    );
    const { rows } = await c.query<{ version: number }>(unbounded('SELECT version FROM schema_migrations'));
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await c.query(unbounded(m.sql));
      await c.query(
        unbounded('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]),
      );
      applied.push(m.version);
    }
    return applied;
  });
}

export async function assertMigrated(
  pool: pg.Pool,
  migrations: Migration[] = loadMigrations('postgres'),
): Promise<void> {
  const { rows } = await pool.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  const latest = migrations.at(-1)?.version ?? 0;
  const at = rows[0]?.v ?? 0;
  if (at < latest) throw new Error(`database schema is at ${at}, expected ${latest}`);
}

/** `pg` error code for a unique violation. */
export const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === UNIQUE_VIOLATION;
}
