import { after, before, describe, test, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  createPool,
  formatTimestamptz,
  named,
  transaction,
  type PoolOptions,
} from '../src/adapters/postgres/database.js';
import { openPostgresStore } from '../src/adapters/postgres/index.js';
import { startRshare } from '../src/index.js';
import { TIMESTAMP } from './helpers.js';
import { isStoreUnavailable } from '../src/lib/outage.js';
import { findPgBouncer, startPgBouncer, type PgBouncer } from './support/pgbouncer.js';
import { findPostgresBin, startPostgres, type PostgresServer } from './support/postgres.js';
import { ROOT } from './support/process.js';

/**
 * rshare's PostgreSQL pool behind a real PgBouncer (`--pg-pooler`): in transaction mode no statement is
 * named, the statement bound is set per transaction or comes from the role, and times are read in UTC
 * whatever the server's zone; in session mode the settings go as `SET` rather than startup parameters
 * (which PgBouncer refuses). The whole server behind PgBouncer, across a failover, is failover.test.ts.
 * This file starts its own PostgreSQL and PgBouncer, so it runs in the SQLite pass only.
 */

describe('formatTimestamptz', () => {
  test('given timestamptz text in any session time zone, when formatted, then it is the same instant in UTC with microseconds', () => {
    assert.equal(formatTimestamptz('2023-09-21 18:56:32.624632+00'), '2023-09-21T18:56:32.624632Z');
    assert.equal(formatTimestamptz('2023-09-22 00:41:32.624632+05:45'), '2023-09-21T18:56:32.624632Z');
    assert.equal(formatTimestamptz('2023-12-31 20:30:00.5-03:30'), '2024-01-01T00:00:00.500000Z');
    assert.equal(formatTimestamptz('1890-01-01 00:53:28+00:53:28'), '1890-01-01T00:00:00.000000Z');
  });

  test('given UTC text (the fast path), when formatted, then it matches the same instant written with an explicit +00:00', () => {
    const instants = [
      '2026-01-01 00:00:00',
      '2024-02-29 23:59:59',
      '1999-12-31 12:34:56',
      '0100-03-01 01:02:03',
    ];
    for (const at of instants) {
      for (const frac of ['', '.5', '.05', '.123456', '.000001']) {
        const text = `${at}${frac}+00`;
        assert.equal(formatTimestamptz(text), formatTimestamptz(`${text}:00`), text);
      }
    }
    assert.equal(formatTimestamptz('2026-01-01 00:00:00+00'), '2026-01-01T00:00:00.000000Z');
  });
});

const SKIP = !findPostgresBin()
  ? 'PostgreSQL binaries not found'
  : !findPgBouncer()
    ? 'pgbouncer not found'
    : undefined;

/** The role's default bound in the `bounded` database, and the server's default time zone there. */
const ROLE_TIMEOUT_MS = 1000;
const ZONE = 'Asia/Kathmandu'; // +05:45: no whole-hour slip can pass for UTC

describe('PostgreSQL pool behind PgBouncer', () => {
  let server: PostgresServer | undefined;
  let txBouncer: PgBouncer | undefined;
  let sessionBouncer: PgBouncer | undefined;
  const pools: pg.Pool[] = [];

  const skipped = (t: TestContext) => {
    if (server && txBouncer && sessionBouncer) return false;
    t.skip(SKIP);
    return true;
  };
  const pool = (url: string, options: PoolOptions) => {
    const p = createPool(url, options);
    pools.push(p);
    return p;
  };

  before(async () => {
    if (SKIP) {
      process.stderr.write(`\n*** PgBouncer tests SKIPPED: ${SKIP} ***\n\n`);
      return;
    }
    server = await startPostgres();
    const admin = new pg.Client(server.url);
    await admin.connect();
    try {
      for (const db of ['bounded', 'unbounded', 'fresh', 'server'])
        await admin.query(`CREATE DATABASE ${db}`);
      // What an operator does once for rshare's role behind a transaction pooler (README).
      await admin.query(
        `ALTER ROLE rshare IN DATABASE bounded SET statement_timeout = '${ROLE_TIMEOUT_MS}ms'`,
      );
      await admin.query(`ALTER ROLE rshare IN DATABASE bounded SET timezone = '${ZONE}'`);
      for (const db of ['fresh', 'server']) {
        await admin.query(
          `ALTER ROLE rshare IN DATABASE ${db} SET statement_timeout = '${ROLE_TIMEOUT_MS}ms'`,
        );
      }
      await admin.query(`ALTER ROLE rshare IN DATABASE server SET timezone = '${ZONE}'`);
    } finally {
      await admin.end();
    }
    // One server connection: consecutive statements of different clients share one server session.
    txBouncer = await startPgBouncer({ serverPort: server.port, mode: 'transaction', poolSize: 1 });
    sessionBouncer = await startPgBouncer({ serverPort: server.port, mode: 'session', poolSize: 4 });
  });

  after(async () => {
    await Promise.allSettled(pools.map((p) => p.end()));
    await txBouncer?.stop();
    await sessionBouncer?.stop();
    server?.stop();
  });

  test('createPool transaction: given two nodes sharing one server session through PgBouncer, when both run the same named() statement in turns, then every run succeeds (no 42P05 or 26000)', async (t) => {
    if (skipped(t)) return;
    const a = pool(txBouncer!.url('bounded'), { pooler: 'transaction' });
    const b = pool(txBouncer!.url('bounded'), { pooler: 'transaction' });
    const lookup = named('SELECT $1::integer + 1 AS n', [41]);
    for (const p of [a, b, a, b]) {
      const { rows } = await p.query<{ n: number }>(lookup);
      assert.equal(rows[0]?.n, 42);
    }
    await Promise.all([a, b, a, b].map((p) => transaction(p, (c) => c.query(lookup))));
  });

  test('transaction(): given transaction mode, when a transaction runs past the statement timeout, then it is cut off as an outage, and the bound ends with the transaction (the next statement has the role default)', async (t) => {
    if (skipped(t)) return;
    // Shorter than the role's default, so only the transaction's own SET LOCAL can cut it off.
    const p = pool(txBouncer!.url('bounded'), { pooler: 'transaction', queryTimeoutMs: 200 });
    const err = await transaction(p, (c) => c.query('SELECT pg_sleep(0.7)')).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((err as { code?: string } | undefined)?.code, '57014', String(err));
    assert.equal(isStoreUnavailable(err), true);
    const { rows } = await p.query<{ s: string }>("SELECT current_setting('statement_timeout') AS s");
    assert.equal(rows[0]?.s, '1s');
  });

  test('createPool transaction: given the role default statement_timeout, when a single statement runs past it, then it is cut off as an outage', async (t) => {
    if (skipped(t)) return;
    const p = pool(txBouncer!.url('bounded'), { pooler: 'transaction', queryTimeoutMs: 4000 });
    const err = await p.query('SELECT pg_sleep(2)').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((err as { code?: string } | undefined)?.code, '57014', String(err));
    assert.equal(isStoreUnavailable(err), true);
  });

  test('openPostgresStore transaction: given a role default statement_timeout that is unbounded or looser than the statement timeout, when opened through the pooler, then it refuses to start, says what to run, and migrates nothing', async (t) => {
    if (skipped(t)) return;
    await assert.rejects(openPostgresStore(txBouncer!.url('unbounded'), { pooler: 'transaction', max: 2 }), {
      message:
        "behind a transaction pooler the server's default statement_timeout must be between 1 and 4000 ms " +
        '(the statement timeout), and it is unbounded: run ALTER ROLE "rshare" SET statement_timeout = ' +
        "'4000ms' on PostgreSQL",
    });
    await assert.rejects(
      openPostgresStore(txBouncer!.url('bounded'), { pooler: 'transaction', max: 2, queryTimeoutMs: 500 }),
      {
        message:
          "behind a transaction pooler the server's default statement_timeout must be between 1 and 500 ms " +
          '(the statement timeout), and it is 1000 ms: run ALTER ROLE "rshare" SET statement_timeout = ' +
          "'500ms' on PostgreSQL",
      },
    );
    const p = pool(txBouncer!.url('unbounded'), { pooler: 'transaction' });
    const { rows } = await p.query<{ t: string | null }>(
      "SELECT to_regclass('schema_migrations')::text AS t",
    );
    assert.deepEqual(rows, [{ t: null }], 'nothing migrated');
  });

  test('openPostgresStore transaction: given two nodes starting together on an empty database through the pooler, when both migrate, then both open on the same schema', async (t) => {
    if (skipped(t)) return;
    const url = txBouncer!.url('fresh');
    const stores = await Promise.all(
      [1, 2].map(() => openPostgresStore(url, { pooler: 'transaction', max: 2 })),
    );
    try {
      for (const store of stores) await store.ready();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('createPool transaction: given a server whose default time zone is not UTC, when times are written and read back through the pooler, then they are the same instants in UTC with microseconds', async (t) => {
    if (skipped(t)) return;
    const p = pool(txBouncer!.url('bounded'), { pooler: 'transaction' });
    const { rows } = await p.query<{ zone: string; t: string; later: string }>(
      "SELECT current_setting('TimeZone') AS zone, $1::timestamptz AS t, $1::timestamptz + interval '1 microsecond' AS later",
      ['2023-09-21T18:56:32.624632Z'],
    );
    assert.deepEqual(rows[0], {
      zone: ZONE,
      t: '2023-09-21T18:56:32.624632Z',
      later: '2023-09-21T18:56:32.624633Z',
    });
  });

  test('createPool session: given PgBouncer in session mode (which refuses startup parameters), when rshare connects, then it is accepted and its statement timeout is in force', async (t) => {
    if (skipped(t)) return;
    const p = pool(sessionBouncer!.url('unbounded'), { pooler: 'session', queryTimeoutMs: 250 });
    const { rows } = await p.query<{ s: string }>(named("SELECT current_setting('statement_timeout') AS s"));
    assert.equal(rows[0]?.s, '250ms');
    const err = await p.query('SELECT pg_sleep(1)').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((err as { code?: string } | undefined)?.code, '57014', String(err));
  });

  test('startRshare pgPooler transaction: given the server behind PgBouncer on a non-UTC database, when a share is created and read back, then both answers agree and its times are UTC with microseconds', async (t) => {
    if (skipped(t)) return;
    const r = await startRshare({ database: txBouncer!.url('server'), pgPooler: 'transaction', demo: true });
    try {
      const demo = r.demo!;
      const headers = { authorization: `Bearer ${demo.token}`, 'content-type': 'application/json' };
      const path = `${r.baseURL}/accounts/${demo.ownerAccountId}/shares`;
      const created = await fetch(path, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'through the pooler',
          recipients: [{ recipient_account_id: demo.recipientAccountIds[0] }],
          resources: [
            {
              meta: {},
              resource_account_id: demo.ownerAccountId,
              resource_id: '023e105f4ecef8ad9ca31a8372d0c353',
              resource_type: 'custom-ruleset',
            },
          ],
        }),
      });
      assert.equal(created.status, 201);
      const share = ((await created.json()) as { result: { id: string; created: string; modified: string } })
        .result;
      assert.match(share.created, TIMESTAMP);
      const read = await fetch(`${path}/${share.id}`, { headers });
      assert.equal(read.status, 200);
      const again = ((await read.json()) as { result: { created: string; modified: string } }).result;
      assert.deepEqual([again.created, again.modified], [share.created, share.modified]);
      // The instant is now, not 5 h 45 min away: a time read in the server's zone would be off by that.
      assert.ok(Math.abs(Date.parse(share.created) - Date.now()) < 60_000, share.created);
    } finally {
      await r.close();
    }
  });

  test('rshare admin commands --pg-pooler transaction: given DATABASE_URL pointing at PgBouncer, when an organization is created with and without the pooler setting, then only the one told of the pooler gets through', async (t) => {
    if (skipped(t)) return;
    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'org', 'create', '--name', 'Pooled', '--json', ...args],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, DATABASE_URL: txBouncer!.url('fresh') },
        },
      );
    const told = cli('--pg-pooler', 'transaction');
    assert.equal(told.status, 0, told.stderr);
    assert.equal((JSON.parse(told.stdout) as { name: string }).name, 'Pooled');
    const untold = cli();
    assert.notEqual(untold.status, 0);
    assert.match(untold.stderr, /unsupported startup parameter/);
  });
});
