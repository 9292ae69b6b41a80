/**
 * The second half of `npm test`: the store-agnostic test files again, against a real PostgreSQL started
 * from this machine's installation. Without PostgreSQL binaries it says so loudly and skips, except in CI
 * (`CI` set), where a missing PostgreSQL or PgBouncer fails the run: CI must never skip this half.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { findPgBouncer, startPgBouncer, type PgBouncer } from '../test/support/pgbouncer.js';
import { findPostgresBin, startPostgres } from '../test/support/postgres.js';

/**
 * Files that test SQLite-only paths, or that start their own PostgreSQL already in the first pass, or
 * that test the HTTP layer below any store (http-errors: sockets, parser errors, server timeouts), or
 * that touch no store (the OpenAPI document and the docs page are the same on either).
 */
const SKIP = new Set([
  'cli.test.ts',
  'crash.test.ts',
  'failover.test.ts',
  'multinode.test.ts',
  'pgbouncer.test.ts',
  'copy-store.test.ts',
  'store-outage.test.ts',
  // Store-independent: the console's pages and routes (one run, on SQLite, is enough).
  'console-browser.test.ts',
  'console.test.ts',
  'http-errors.test.ts',
  'openapi.test.ts',
  'docs-browser.test.ts',
  // Store-independent: the README's and docs/ links, the console's bundle, and the packed package
  // (installed elsewhere, serving from its own in-memory SQLite).
  'docs-links.test.ts',
  'console-bundle.test.ts',
  'pack.test.ts',
]);

// `npm run test:postgres -- test/a.test.ts …` runs just those files (skipped or not). With `--pooler
// transaction` (or `session`) first, every connection goes through PgBouncer in that mode, to a server whose
// default time zone is not UTC: what production behind a pooler looks like (docs/postgresql.md, "Production PostgreSQL").
const args = process.argv.slice(2);
const pooler = args[0] === '--pooler' ? args[1] : undefined;
if (pooler !== undefined && pooler !== 'transaction' && pooler !== 'session') {
  console.error(`--pooler takes transaction or session, not ${pooler}`);
  process.exit(2);
}
const chosen = pooler === undefined ? args : args.slice(2);
const files = chosen.length
  ? chosen
  : readdirSync('test')
      .filter((f) => f.endsWith('.test.ts') && !SKIP.has(f))
      .sort()
      .map((f) => `test/${f}`);

const missing = [
  findPostgresBin() ? undefined : 'PostgreSQL (initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin)',
  findPgBouncer() ? undefined : 'PgBouncer (pgbouncer on PATH or /usr/sbin/pgbouncer)',
].filter((m) => m !== undefined);
if (process.env.CI && missing.length) {
  console.error(`CI is set but ${missing.join(' and ')} is missing: the PostgreSQL tests cannot run.`);
  console.error('Install them (Debian: apt-get install postgresql pgbouncer); CI never skips this half.');
  process.exit(1);
}
if (!findPostgresBin()) {
  const line = '#'.repeat(100);
  console.log(
    `${line}\n# SKIPPED: the PostgreSQL test run (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin).`,
  );
  console.log(`# Install PostgreSQL (Debian: apt-get install postgresql) to run it.\n${line}`);
  process.exit(0);
}

const server = await startPostgres();
let bouncer: PgBouncer | undefined;
let status = 1;
try {
  let url = server.url;
  if (pooler !== undefined) {
    const admin = new pg.Client(server.url);
    await admin.connect();
    // What a transaction pooler needs of the role, and a zone no whole-hour slip passes for UTC.
    await admin.query(`ALTER ROLE rshare SET statement_timeout = '4000ms'`);
    await admin.query(`ALTER ROLE rshare SET timezone = 'Asia/Kathmandu'`);
    await admin.end();
    bouncer = await startPgBouncer({ serverPort: server.port, mode: pooler, poolSize: 40 });
    url = bouncer.url('postgres');
  }
  console.log(
    `PostgreSQL test run: ${files.length} files against ${url}${pooler ? ` (${pooler} pooler)` : ''}`,
  );
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files], {
    stdio: 'inherit',
    env: {
      ...process.env,
      RSHARE_TEST_PG_URL: url,
      ...(pooler ? { RSHARE_PG_POOLER: pooler } : {}),
    },
  });
  status = run.status ?? 1;
} finally {
  await bouncer?.stop();
  server.stop();
}
process.exit(status);
