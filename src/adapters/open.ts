import type { WorkTiming } from '../engine/reconciler/timing.js';
import type { PgPooler } from './pooler.js';
import type { Store } from './store.js';
import { openSqliteStore } from './sqlite/index.js';

/** `postgres://` and `postgresql://` URLs name a PostgreSQL database; anything else is a SQLite file. */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

export interface OpenStoreOptions {
  /** PostgreSQL connections for this process (default 10); ignored for SQLite. */
  poolSize?: number;
  /** When work queued by API changes becomes due (default: at once; see `delayedWork`). */
  timing?: WorkTiming;
  /** PostgreSQL statement timeout (default 4 s, see docs/postgresql.md, "Store outages"); 0: none, for bulk loads. */
  queryTimeoutMs?: number;
  /** What sits between rshare and PostgreSQL (default `none`); ignored for SQLite. */
  pgPooler?: PgPooler;
}

/**
 * Opens the store named by a database URL, applying pending migrations: a `postgres://` /
 * `postgresql://` URL, or a SQLite file path (optionally as a `sqlite:` URL).
 */
export async function openStore(database: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(database)) {
    // Loaded lazily so SQLite deployments never load the PostgreSQL driver.
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(database, {
      max: options.poolSize,
      timing: options.timing,
      queryTimeoutMs: options.queryTimeoutMs,
      pooler: options.pgPooler,
    });
  }
  const path = database.startsWith('sqlite:') ? database.slice('sqlite:'.length) : database;
  return openSqliteStore(path, { timing: options.timing });
}
