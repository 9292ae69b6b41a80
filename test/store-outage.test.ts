import { after, afterEach, before, beforeEach, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { isStoreUnavailable } from '../src/lib/outage.js';
import { createPool, transaction } from '../src/adapters/postgres/database.js';
import { SqliteStore } from '../src/adapters/sqlite/index.js';
import type { ReconcilerLogger } from '../src/engine/reconciler/reconciler.js';
import {
  assertError,
  base,
  call,
  prefixedId,
  R1,
  seedShareBody,
  setup,
  type Harness,
  type Reply,
} from './helpers.js';
import type { PostgresServer } from './support/postgres.js';
import { suiteCluster } from './support/postgres-suite.js';
import { freePort } from './support/port.js';
import { serverCall } from './support/server-api.js';
import { startServer, waitFor, writeOrganizationBootstrap, type ServerProcess } from './support/process.js';
import { STORE_KIND } from './support/store.js';
import { buildReconciler, type TestReconcilerOptions } from './support/reconciler.js';

/**
 * Store outages: PostgreSQL stopped under load and started again, SQLite that cannot write. Clients get
 * 503 / 1503 with Retry-After (never a hang, never a crash), /readyz follows the store, the reconciler
 * pauses with one log line and backs off, and everything comes back without a restart, losing nothing
 * that was acknowledged.
 *
 * This file starts its own PostgreSQL (it must stop and start it), so it runs in the SQLite pass only.
 * SQLite's conditions are simulated on a live handle, because the suite runs as root and root ignores
 * file modes (a chmod'ed file stays writable) and no small filesystem is at hand: `PRAGMA max_page_count`
 * at the current size makes the next page allocation fail with SQLITE_FULL exactly as a full disk does,
 * and `PRAGMA query_only` (or a second, read-only handle) makes writes fail with SQLITE_READONLY as on a
 * read-only file or mount. Both go through SQLite's real error paths: statement, transaction rollback.
 */

const UNAVAILABLE = 'The data store is unavailable; retry later';

function assertUnavailable(res: Reply): void {
  assertError(res, 503, 1503, UNAVAILABLE);
  assert.equal(res.headers['retry-after'], '5');
}

describe('store outage: which errors mean the store is unavailable', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  test('given connection, shutdown, timeout, disk-full and read-only failures of either driver, when classified, then each is an outage', () => {
    for (const err of [
      coded('ECONNREFUSED'),
      coded('ECONNRESET'),
      coded('ETIMEDOUT'),
      coded('57P01'), // admin_shutdown
      coded('57P02'), // crash_shutdown
      coded('57P03'), // cannot_connect_now (starting up, shutting down)
      coded('57014'), // query_canceled: statement_timeout
      coded('08006'), // connection_failure
      coded('53300'), // too_many_connections
      coded('53100'), // disk_full
      coded('25006'), // read_only_sql_transaction (a standby after failover)
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout'),
      new Error('Query read timeout'),
      coded('SQLITE_FULL'),
      coded('SQLITE_READONLY'),
      coded('SQLITE_READONLY_DBMOVED'),
      coded('SQLITE_IOERR_WRITE'),
      coded('SQLITE_CANTOPEN'),
      coded('SQLITE_BUSY'),
    ]) {
      assert.equal(isStoreUnavailable(err), true, `${(err as { code?: string }).code ?? err.message}`);
    }
  });

  test('given bugs and request errors, when classified, then none is an outage', () => {
    for (const err of [
      coded('23505'), // unique_violation
      coded('42P01'), // undefined_table
      coded('40P01'), // deadlock_detected
      coded('SQLITE_CONSTRAINT_UNIQUE'),
      coded('SQLITE_CORRUPT'),
      coded('SQLITE_ERROR'),
      coded('EPERM'),
      new TypeError('Cannot read properties of undefined'),
      new Error('Connection terminated'), // our own pool.end()
      { code: 'ECONNREFUSED' }, // not an Error
      undefined,
    ]) {
      assert.equal(isStoreUnavailable(err), false, JSON.stringify(err));
    }
  });
});

describe('store outage: the reconciler backs off while the store is out', () => {
  test('given base 250 ms and cap 5 s, when passes keep failing, then the wait doubles up to the cap, half of it jitter', () => {
    // Only the backoff arithmetic runs: no store or driver is touched.
    const options = { store: { reconciler: {} }, clock: { now: () => 0, timestamp: () => '' }, drivers: {} };
    const low = buildReconciler({ ...(options as unknown as TestReconcilerOptions), random: () => 0 });
    const high = buildReconciler({ ...(options as unknown as TestReconcilerOptions), random: () => 1 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 50].map((n) => high.outageBackoff(n)),
      [250, 500, 1000, 2000, 4000, 5000, 5000, 5000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 50].map((n) => low.outageBackoff(n)),
      [125, 250, 500, 1000, 2000, 2500, 2500, 2500],
    );
  });
});

describe('store outage: SQLite', () => {
  let h: Harness;
  const sqlite = () => (h.store as SqliteStore).db;
  const skipped = (t: TestContext) => {
    if (STORE_KIND === 'sqlite') return false;
    t.skip('SQLite only');
    return true;
  };

  beforeEach(async () => {
    h = await setup();
  });
  afterEach(async () => {
    await h.close();
  });

  const shareCount = async () =>
    (await call(h.app, 'GET', `${base()}?per_page=1`)).body.result_info.total_count;
  const integrity = () => sqlite().pragma('integrity_check', { simple: true });

  test('given a full disk (SQLITE_FULL), when creating shares until one fails, then that write is 503 and rolled back whole, reads keep working, the file is intact, and writes work again once space is freed', async (t) => {
    if (skipped(t)) return;
    const db = sqlite();
    const before = await shareCount();
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const acked: string[] = [];
    let full: Reply | undefined;
    for (let i = 0; i < 500 && !full; i++) {
      const res = await call(h.app, 'POST', base(), {
        body: { ...seedShareBody(), name: `filler ${i} ${'x'.repeat(200)}` },
      });
      if (res.status === 201) acked.push(res.body.result.id);
      else full = res;
    }
    assert.ok(full, 'the page limit was reached');
    assertUnavailable(full);
    // Reads: the list and every acknowledged share, and nothing of the failed create.
    assert.equal(await shareCount(), before + acked.length);
    for (const id of acked) assert.equal((await call(h.app, 'GET', `${base()}/${id}`)).status, 200);
    assert.equal((await call(h.app, 'GET', '/readyz')).status, 200);
    // The same write again (a smaller one may still fit in the pages' free space).
    const filler = { ...seedShareBody(), name: `filler again ${'x'.repeat(200)}` };
    assertUnavailable(await call(h.app, 'POST', base(), { body: filler }));
    assert.equal(integrity(), 'ok');

    db.pragma('max_page_count = 1073741823');
    const again = await call(h.app, 'POST', base(), { body: seedShareBody() });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(await shareCount(), before + acked.length + 1);
    assert.equal(integrity(), 'ok');
  });

  test('given a store that cannot write (SQLITE_READONLY via query_only), when changing things, then each change is 503 and nothing changes, reads and /readyz keep working, and writes work again once it can write', async (t) => {
    if (skipped(t)) return;
    const created = await call(h.app, 'POST', base(), { body: seedShareBody() });
    assert.equal(created.status, 201);
    const id = created.body.result.id as string;
    sqlite().pragma('query_only = ON');

    assertUnavailable(await call(h.app, 'POST', base(), { body: seedShareBody() }));
    assertUnavailable(await call(h.app, 'PUT', `${base()}/${id}`, { body: { name: 'renamed' } }));
    assertUnavailable(await call(h.app, 'DELETE', `${base()}/${id}`));
    const read = await call(h.app, 'GET', `${base()}/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.result.name, seedShareBody().name);
    assert.equal(read.body.result.status, 'active');
    assert.equal((await call(h.app, 'GET', '/readyz')).status, 200);
    assert.equal((await call(h.app, 'GET', '/healthz')).status, 200);

    sqlite().pragma('query_only = OFF');
    const renamed = await call(h.app, 'PUT', `${base()}/${id}`, { body: { name: 'renamed' } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.result.name, 'renamed');
    assert.equal(integrity(), 'ok');
  });

  test('given a store opened on a read-only handle (a read-only file or mount), when creating a share, then it is 503 and reads work', async (t) => {
    if (skipped(t)) return;
    const ro = new Database(h.databaseUrl, { readonly: true });
    const app = await buildApp({ store: new SqliteStore(ro), clock: h.clock });
    try {
      assertUnavailable(await call(app, 'POST', base(), { body: seedShareBody() }));
      const list = await call(app, 'GET', base());
      assert.equal(list.status, 200);
      assert.equal(list.body.success, true);
    } finally {
      await app.close();
      ro.close();
    }
  });

  test('given the reconciler loop and a store that cannot write, when passes fail, then it logs once, counts them, reports the store down, and converges on its own once the store can write', async (t) => {
    if (skipped(t)) return;
    const lines: { level: string; msg: string }[] = [];
    const logger: ReconcilerLogger = {
      info: (_o, msg) => lines.push({ level: 'info', msg }),
      warn: (_o, msg) => lines.push({ level: 'warn', msg }),
      error: (_o, msg) => lines.push({ level: 'error', msg }),
    };
    const reconciler = buildReconciler({
      store: h.store,
      clock: h.clock,
      logger,
      outageBackoffBaseMs: 1,
      outageBackoffCapMs: 8,
    });
    await reconciler.reconcileOnce();
    const created = await call(h.app, 'POST', base(), { body: seedShareBody(R1) });
    assert.equal(created.status, 201);
    const recipients = `${base()}/${created.body.result.id as string}/recipients`;
    const status = async () => (await call(h.app, 'GET', recipients)).body.result[0].association_status;
    const gauge = async () => (await reconciler.metrics.storeUp.get()).values[0]?.value;
    const failedPasses = async () => (await reconciler.metrics.storeErrors.get()).values[0]?.value ?? 0;

    sqlite().pragma('query_only = ON');
    reconciler.start(1);
    try {
      await waitFor('five failed passes', async () => ((await failedPasses()) >= 5 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 5,
      });
      assert.equal(await gauge(), 0);
      assert.equal(await status(), 'associating');
      sqlite().pragma('query_only = OFF');
      await waitFor('the recipient associated', async () =>
        (await status()) === 'associated' ? true : undefined,
      );
      assert.equal(await gauge(), 1);
    } finally {
      await reconciler.stop();
    }
    assert.deepEqual(lines, [
      { level: 'warn', msg: 'store unavailable; reconciler paused, retrying with backoff' },
      { level: 'info', msg: 'store available again; reconciler resumed' },
    ]);
  });
});

describe('store outage: PostgreSQL pool bounds', () => {
  let blackHole: Server | undefined;
  const sockets: Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (blackHole ? blackHole.close(() => resolve()) : resolve()));
  });

  test('given a server that accepts connections and never answers, when querying, then the query fails after the connect timeout as a store outage', async () => {
    blackHole = createServer((socket) => sockets.push(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => blackHole?.listen(port, '127.0.0.1', resolve));
    const pool = createPool(`postgres://nobody@127.0.0.1:${port}/none`, { connectTimeoutMs: 200 });
    try {
      // Bounded: without a connect timeout the query would wait forever.
      const hung = sleep(10_000, 'still waiting after 10 s', { ref: false });
      const err = await Promise.race([
        pool.query('SELECT 1').then(
          () => undefined,
          (e: unknown) => e,
        ),
        hung,
      ]);
      assert.ok(err instanceof Error, `the query failed (${String(err)})`);
      assert.equal(isStoreUnavailable(err), true, err.message);
    } finally {
      for (const socket of sockets) socket.destroy();
      await pool.end();
    }
  });
});

describe('store outage: PostgreSQL', () => {
  let server: PostgresServer | undefined;
  let dir: string | undefined;
  let node: ServerProcess | undefined;

  const cluster = suiteCluster('PostgreSQL store-outage');
  const skipped = cluster.skipped;

  before(async () => {
    // Commits acknowledged before an immediate stop must survive it: synchronous_commit stays on.
    server = await cluster.start({ durableCommits: true });
    if (!server) return;
    dir = mkdtempSync(join(tmpdir(), 'rshare-outage-'));
  });

  after(async () => {
    await node?.kill();
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('given a statement that runs past the query timeout, when it is cut off, then the error is a store outage and the pool still works', async (t) => {
    if (skipped(t)) return;
    const pool = createPool(server!.url, { queryTimeoutMs: 100 });
    try {
      const err = await pool.query('SELECT pg_sleep(10)').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal((err as { code?: string }).code, '57014');
      assert.equal(isStoreUnavailable(err), true);
      assert.equal((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1);
    } finally {
      await pool.end();
    }
  });

  test('given a transaction whose connection is killed between two statements, when it commits, then it fails as a store outage, the process survives, nothing of it is stored, and the pool reconnects', async (t) => {
    if (skipped(t)) return;
    const url = server!.url;
    const admin = new pg.Client(url);
    await admin.connect();
    const table = `outage_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE TABLE ${table} (n integer)`);
    const pool = createPool(url, { max: 1 });
    try {
      const err = await transaction(pool, async (client) => {
        await client.query(`INSERT INTO ${table} VALUES (1)`);
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
        // The termination reaches the idle, checked-out client as an 'error' event before the COMMIT.
        await waitFor('the backend gone', async () => {
          const gone = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0]?.pid]);
          return gone.rowCount === 0 ? true : undefined;
        });
        await sleep(50);
        return 'committed';
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error, 'the transaction failed');
      assert.equal(isStoreUnavailable(err), true, err.message);
      assert.equal((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 0);
      assert.equal((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1);
    } finally {
      await pool.end();
      await admin.query(`DROP TABLE ${table}`);
      await admin.end();
    }
  });

  test('given rshare serve under concurrent writes, when PostgreSQL stops and starts again, then every request is answered (201 or 503), /readyz follows, the process stays up, every acknowledged share survives, new writes work and the reconciler converges', async (t) => {
    if (skipped(t)) return;
    const pgServer = server!;
    const ORG = prefixedId('a0', 1);
    const OWNER = prefixedId('b0', 0);
    const ACCOUNTS = Array.from({ length: 8 }, (_, i) => prefixedId('b1', i + 1));
    const TOKEN = 'store-outage-owner-edit-token-01';
    const bootstrap = join(dir!, 'bootstrap.json');
    writeOrganizationBootstrap(bootstrap, {
      organization: ORG,
      name: 'Outage Org',
      accounts: [OWNER, ...ACCOUNTS],
      token: TOKEN,
    });
    // Log level error: a store outage is not an error (503s and the reconciler's pause log at warn), so
    // anything printed is a failure the outage caused.
    node = await startServer({ database: pgServer.url, bootstrap, logLevel: 'error' });
    const live = node;
    /** Generous: the server's own bound is about 5 s; a request still open after this one hangs. */
    const BOUND_MS = 20_000;

    type Outcome =
      | { phase: Phase; kind: 'ok'; id: string }
      | { phase: Phase; kind: 'unavailable' }
      | { phase: Phase; kind: 'other'; detail: string };
    type Phase = 'before' | 'down' | 'after';
    let phase: Phase = 'before';
    let running = true;
    const outcomes: Outcome[][] = [];

    const request = <T = { id: string }>(method: string, path: string, body?: unknown) =>
      serverCall<T>(live, TOKEN, method, path, body, BOUND_MS);
    const judge = (
      at: Phase,
      res: Awaited<ReturnType<typeof serverCall<{ id: string }>>>,
      okStatus: number,
      method: string,
    ): Outcome => {
      if (res.status === okStatus && res.body.success === true)
        return { phase: at, kind: 'ok', id: res.body.result.id };
      const [e] = res.body.errors ?? [];
      if (
        res.status === 503 &&
        res.body.success === false &&
        res.body.result === null &&
        res.body.errors.length === 1 &&
        e !== undefined &&
        e.code === 1503 &&
        e.message === UNAVAILABLE &&
        e.source === undefined &&
        res.headers.get('retry-after') === '5'
      )
        return { phase: at, kind: 'unavailable' };
      return { phase: at, kind: 'other', detail: `${method} ${res.status} ${JSON.stringify(res.body)}` };
    };
    const writer = async (w: number) => {
      const mine: Outcome[] = (outcomes[w] = []);
      for (let n = 0; running; n++) {
        const at = phase;
        let created: Outcome;
        try {
          const res = await request('POST', `/accounts/${OWNER}/shares`, {
            name: `outage writer ${w} #${n}`,
            recipients: [{ recipient_account_id: ACCOUNTS[(w + n) % ACCOUNTS.length] }],
            resources: [
              {
                resource_id: randomBytes(16).toString('hex'),
                resource_type: 'custom-ruleset',
                resource_account_id: OWNER,
                meta: { w, n },
              },
            ],
          });
          created = judge(at, res, 201, 'POST');
        } catch (err) {
          created = { phase: at, kind: 'other', detail: `POST failed: ${(err as Error).message}` };
        }
        mine.push(created);
        if (created.kind === 'ok') {
          try {
            const read = await request('GET', `/accounts/${OWNER}/shares/${created.id}`);
            const outcome = judge(phase, read, 200, 'GET');
            if (outcome.kind === 'other') mine.push(outcome);
          } catch (err) {
            mine.push({ phase, kind: 'other', detail: `GET failed: ${(err as Error).message}` });
          }
        }
        await sleep(10);
      }
    };
    const count = (w: number, at: Phase, kind: Outcome['kind']) =>
      (outcomes[w] ?? []).filter((o) => o.phase === at && o.kind === kind).length;
    const WRITERS = 4;
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    const metric = async (name: string) => {
      const res = await fetch(`${live.url}/metrics`, { signal: AbortSignal.timeout(BOUND_MS) });
      assert.equal(res.status, 200);
      const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const readyz = async () => {
      const res = await fetch(`${live.url}/readyz`, { signal: AbortSignal.timeout(BOUND_MS) });
      return { status: res.status, body: (await res.json()) as unknown };
    };

    try {
      await waitFor('writes acknowledged by every writer', () =>
        Array.from({ length: WRITERS }, (_, w) => count(w, 'before', 'ok')).every((n) => n >= 5)
          ? true
          : undefined,
      );

      phase = 'down';
      pgServer.halt();
      await waitFor('503s seen by every writer', () =>
        Array.from({ length: WRITERS }, (_, w) => count(w, 'down', 'unavailable')).every((n) => n >= 3)
          ? true
          : undefined,
      );
      assert.deepEqual(await readyz(), { status: 503, body: { status: 'unavailable' } });
      assert.equal(
        (await fetch(`${live.url}/healthz`, { signal: AbortSignal.timeout(BOUND_MS) })).status,
        200,
      );
      await waitFor('the reconciler reporting the store down', async () =>
        (await metric('rshare_store_up')) === 0 ? true : undefined,
      );
      assert.ok(((await metric('rshare_reconciler_store_errors_total')) ?? 0) > 0);
      assert.equal(live.child.exitCode, null, 'the server is still running');

      pgServer.resume();
      phase = 'after';
      await waitFor('/readyz 200 again', async () => ((await readyz()).status === 200 ? true : undefined));
      await waitFor('writes acknowledged again by every writer', () =>
        Array.from({ length: WRITERS }, (_, w) => count(w, 'after', 'ok')).every((n) => n >= 5)
          ? true
          : undefined,
      );
    } finally {
      running = false;
      await Promise.all(writers);
    }

    const all = outcomes.flat();
    const others = all.filter((o) => o.kind === 'other');
    assert.deepEqual(others, [], 'every request answered with success or 503 in the envelope');
    assert.ok(all.some((o) => o.phase === 'down' && o.kind === 'unavailable'));
    assert.equal(live.child.exitCode, null, 'the server is still running');

    // Every acknowledged share is there, and the reconciler associates each one's recipient.
    const acked = all.flatMap((o) => (o.kind === 'ok' ? [o.id] : []));
    const listed = new Set<string>();
    for (let page = 1; ; page++) {
      const res = await request<{ id: string }[]>(
        'GET',
        `/accounts/${OWNER}/shares?per_page=100&page=${page}`,
      );
      assert.equal(res.status, 200);
      for (const s of res.body.result) listed.add(s.id);
      if (res.body.result.length < 100) break;
    }
    const missing = acked.filter((a) => !listed.has(a));
    assert.deepEqual(missing, [], 'acknowledged shares present after the outage');
    await waitFor(
      'every acknowledged share associated',
      async () => {
        for (let page = 1; ; page++) {
          const res = await request<{ associated_recipient_count: number }[]>(
            'GET',
            `/accounts/${OWNER}/shares?per_page=100&page=${page}&include_recipient_counts=true`,
          );
          for (const s of res.body.result) if (s.associated_recipient_count !== 1) return undefined;
          if (res.body.result.length < 100) return true;
        }
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await waitFor('the reconciler reporting the store up', async () =>
      (await metric('rshare_store_up')) === 1 ? true : undefined,
    );
    t.diagnostic(
      `requests: ${all.length}; acknowledged: ${acked.length}; 503: ${all.filter((o) => o.kind === 'unavailable').length}`,
    );
    assert.equal(live.output().trim(), '', 'nothing logged at error level');
  });
});
