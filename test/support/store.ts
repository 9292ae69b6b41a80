import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PgPooler } from '../../src/adapters/pooler.js';
import type { Store } from '../../src/adapters/store.js';
import { openSqliteStore } from '../../src/adapters/sqlite/index.js';
import type { WorkTiming } from '../../src/engine/reconciler/timing.js';

/** Set by the PostgreSQL test run (scripts/test-postgres.ts): the superuser URL of a throwaway cluster. */
export const PG_URL = process.env.RSHARE_TEST_PG_URL;
export const STORE_KIND: Store['kind'] = PG_URL ? 'postgres' : 'sqlite';
/** Set with PG_URL when the run goes through PgBouncer (`npm run test:postgres -- --pooler transaction`). */
export const PG_POOLER = process.env.RSHARE_PG_POOLER as PgPooler | undefined;

/** Raw SQL for tests that must reach below the API; `?` placeholders work on both stores. */
export type Sql = (text: string, ...params: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * What the store sent to its database: each SQLite statement run (through the connection's own trace), or
 * each PostgreSQL round trip (each query on a pooled connection, BEGIN and COMMIT included).
 */
export class StatementLog {
  /** Set while `during` runs: nothing is kept outside it, so the log never grows with a test file. */
  private texts: string[] | undefined;

  constructor(readonly enabled: boolean) {}

  record = (text: unknown): void => {
    this.texts?.push(typeof text === 'string' ? text : String((text as { text?: unknown })?.text ?? text));
  };

  /** The statements sent while `fn` runs (nothing else may use the store meanwhile). */
  async during(fn: () => Promise<unknown>): Promise<string[]> {
    if (!this.enabled) throw new Error('open the store with { countStatements: true } to count statements');
    const texts: string[] = [];
    this.texts = texts;
    try {
      await fn();
    } finally {
      this.texts = undefined;
    }
    return texts;
  }
}

/** The credential check: the only statement a request sends that reads a token's or user's digest. */
export function isCredentialRead(text: string): boolean {
  return /^\s*SELECT\b/i.test(text) && /\b(secret_hash|api_key_hash)\b/.test(text);
}

export interface TestStore {
  store: Store;
  sql: Sql;
  statements: StatementLog;
  /** A database URL other processes (CLI, servers) can open. */
  url: string;
  close(): Promise<void>;
}

export interface TestStoreOptions {
  /** When work queued by API changes becomes due (default: at once). */
  timing?: WorkTiming;
  /** Trace the store's statements (SQLite) or round trips (PostgreSQL) for `statements.during`. */
  countStatements?: boolean;
}

/** A fresh, migrated database: a temp SQLite file, or a new database on the test PostgreSQL cluster. */
export async function openTestStore(options: TestStoreOptions = {}): Promise<TestStore> {
  if (PG_URL) return openPostgresTestStore(PG_URL, options);
  const dir = mkdtempSync(join(tmpdir(), 'rshare-test-'));
  const path = join(dir, 'rshare.db');
  const statements = new StatementLog(options.countStatements === true);
  const store = openSqliteStore(path, {
    timing: options.timing,
    ...(statements.enabled ? { onStatement: statements.record } : {}),
  });
  return {
    store,
    statements,
    url: path,
    sql: async (text, ...params) => {
      const stmt = store.db.prepare(text);
      if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[];
      stmt.run(...params);
      return [];
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new, empty database on the test PostgreSQL cluster (nothing migrated), and how to drop it. */
export async function createPostgresDatabase(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const { default: pg } = await import('pg');
  const name = `rshare_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const drop = new pg.Client(adminUrl);
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    },
  };
}

async function openPostgresTestStore(adminUrl: string, options: TestStoreOptions): Promise<TestStore> {
  const { openPostgresStore } = await import('../../src/adapters/postgres/index.js');
  const database = await createPostgresDatabase(adminUrl);
  const store = await openPostgresStore(database.url, { timing: options.timing, pooler: PG_POOLER });
  const statements = new StatementLog(options.countStatements === true);
  // Every query, the pool's own included, goes through a checked-out connection: count there, once per client.
  const counted = new WeakSet<object>();
  if (statements.enabled)
    store.pool.on('acquire', (client) => {
      if (counted.has(client)) return;
      counted.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        statements.record(args[0]);
        return query(...args);
      };
    });
  return {
    store,
    statements,
    url: database.url,
    sql: async (text, ...params) => {
      let n = 0;
      const res = await store.pool.query(
        text.replace(/\?/g, () => `$${++n}`),
        params,
      );
      return res.rows as Record<string, unknown>[];
    },
    async close() {
      await store.close();
      await database.drop();
    },
  };
}
