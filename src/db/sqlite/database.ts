import Database from 'better-sqlite3';
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

/** Placeholders for an IN list: `?, ?, ?`. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Runs `fn` over chunks small enough for SQLite's bound-parameter limit. */
export function chunked<T, R>(items: T[], fn: (chunk: T[]) => R[], size = 500): R[] {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...fn(items.slice(i, i + size)));
  return out;
}

const statementCaches = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * The prepared statement for `sql` on `db`, compiled once. Queries that vary only by which filters are
 * present (lists) have few distinct texts, so caching by text keeps every query prepared.
 */
export function prepared(db: Db, sql: string): Database.Statement {
  let cache = statementCaches.get(db);
  if (!cache) statementCaches.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}
