import Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadMigrations, type Migration } from '../migrations.js';

type Db = Database.Database;

export interface OpenDatabaseOptions {
  /** Called with the text of every statement the connection runs (tests count a request's statements). */
  onStatement?: (sql: string) => void;
}

export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const { onStatement } = options;
  const db = new Database(path, onStatement ? { verbose: (sql?: unknown) => onStatement(String(sql)) } : {});
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/**
 * Applies pending migrations, each in its own IMMEDIATE transaction: the write lock is taken before the
 * applied set is read, so processes starting together on one file never apply a migration twice.
 */
export function migrate(db: Db, migrations: Migration[] = loadMigrations('sqlite')): number[] {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)`,
  );
  const isApplied = db.prepare<[number], { version: number }>(
    'SELECT version FROM schema_migrations WHERE version = ?',
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of migrations) {
    const run = db.transaction(() => {
      if (isApplied.get(m.version)) return;
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
      applied.push(m.version);
    });
    run.immediate();
  }
  return applied;
}

/** Throws unless every known migration is applied. */
export function assertMigrated(db: Db, migrations: Migration[] = loadMigrations('sqlite')): void {
  const row = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations').get();
  const latest = migrations.at(-1)?.version ?? 0;
  if ((row?.v ?? 0) < latest) throw new Error(`database schema is at ${row?.v ?? 0}, expected ${latest}`);
}

/**
 * Prepared statements kept per database. Query texts vary only by which filters are present (lists are
 * bound as one JSON parameter), so a few hundred hold every hot query; the bound stops a caller who
 * combines filters in ever new ways from growing the process, one compiled statement per combination.
 */
export const STATEMENT_CACHE_SIZE = 256;

interface StatementCache {
  statements: LRUCache<string, Database.Statement>;
  /** Statements compiled since the database was opened (cache misses). */
  compiled: number;
}

const statementCaches = new WeakMap<Db, StatementCache>();

function cacheOf(db: Db): StatementCache {
  let cache = statementCaches.get(db);
  if (!cache) {
    cache = { statements: new LRUCache({ max: STATEMENT_CACHE_SIZE }), compiled: 0 };
    statementCaches.set(db, cache);
  }
  return cache;
}

/** The prepared statement for `sql` on `db`, compiled on first use and kept while recently used. */
export function prepared(db: Db, sql: string): Database.Statement {
  const cache = cacheOf(db);
  let stmt = cache.statements.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    cache.statements.set(sql, stmt);
    cache.compiled++;
  }
  return stmt;
}

/** How many statements `db`'s cache holds and how many it has compiled (for tests and diagnostics). */
export function statementCacheStats(db: Db): { size: number; compiled: number } {
  const cache = cacheOf(db);
  return { size: cache.statements.size, compiled: cache.compiled };
}
