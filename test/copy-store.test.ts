import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { assertCopiesEverything, copyStore, TABLES } from '../src/adapters/copy.js';
import { openPostgresStore, type PostgresStore } from '../src/adapters/postgres/index.js';
import { openSqliteStore, type SqliteStore } from '../src/adapters/sqlite/index.js';
import type { App } from '../src/http/types.js';
import { ManualClock } from '../src/lib/clock.js';
import { applyBootstrap } from '../src/platform/tenancy/bootstrap.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { call, hexId, type Reply } from './helpers.js';
import type { PostgresServer } from './support/postgres.js';
import { suiteCluster } from './support/postgres-suite.js';
import { ROOT } from './support/process.js';
import { buildReconciler } from './support/reconciler.js';
import { nonEmpty } from './support/assert.js';

/**
 * `rshare migrate-store`: an embedded (SQLite) store with data in every table is copied into an empty
 * PostgreSQL database, which must then hold the same rows and answer the API exactly as the source did.
 */

const ORG = hexId(1, 'a');
const OWNER = hexId(1, 'b');
const R1 = hexId(2, 'b');
const R2 = hexId(3, 'b');
const R3 = hexId(4, 'b');
const LONER = hexId(5, 'b');
const TOKEN = 'copy-test-owner-edit-token-0001';
const R1_TOKEN = 'copy-test-r1-read-token-000002';
const DISABLED = 'copy-test-disabled-token-00003';
const EXPIRED = 'copy-test-expired-token-000004';
const USER = { email: 'owner@copy.test', api_key: 'copy-test-global-api-key-0005' };
const LEASED_BY = 'embedded-worker-that-was-stopped';

const BOOTSTRAP = {
  organizations: [{ id: ORG, name: 'Copy Org' }],
  accounts: [
    { id: OWNER, name: 'Owner', organization_id: ORG },
    { id: R1, name: 'R1', organization_id: ORG },
    { id: R2, name: 'R2', organization_id: ORG, entitlements: ['custom-ruleset'] },
    // Entitled to nothing: deliveries end in a terminal error (recipient_resources.terminal = 1).
    { id: R3, name: 'R3', organization_id: ORG, entitlements: [] },
    { id: LONER, name: 'Loner', organization_id: null },
  ],
  users: [{ ...USER, accounts: [OWNER], organizations: [ORG] }],
  tokens: [
    {
      value: TOKEN,
      name: 'owner edit',
      accounts: [OWNER, R1, R2, R3],
      organizations: [ORG],
      permissions: ['read', 'edit'],
    },
    { value: R1_TOKEN, name: 'r1 read', accounts: [R1], permissions: ['read'] },
    { value: DISABLED, name: 'disabled', accounts: [OWNER], permissions: ['read'], status: 'disabled' },
    {
      value: EXPIRED,
      name: 'expired',
      accounts: [OWNER],
      permissions: ['read', 'edit'],
      expires_on: '2025-06-01T12:00:00.5Z',
    },
  ],
};

type Row = Record<string, unknown>;

/** PostgreSQL hands every timestamptz back with microseconds; SQLite keeps the text it was given. */
const micros = (value: string) =>
  value.replace(
    /^(.+T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/,
    (_, s: string, f = '') => `${s}.${f.padEnd(6, '0')}Z`,
  );

/** What PostgreSQL must hold for a SQLite row: booleans, parsed JSON, timestamps, leases cleared. */
function expectedRow(table: string, row: Row): Row {
  const out: Row = { ...row };
  for (const key of ['created', 'modified', 'expires_on']) {
    if (typeof out[key] === 'string') out[key] = micros(out[key] as string);
  }
  for (const key of ['can_edit', 'terminal']) if (key in out) out[key] = out[key] === 1;
  for (const key of ['entitlements', 'meta']) {
    if (key in out && out[key] !== null) out[key] = JSON.parse(out[key] as string) as unknown;
  }
  if (table === 'reconcile_work') {
    out.lease_owner = null;
    out.lease_expires = null;
  }
  return out;
}

/** Rows in a store-independent order (PostgreSQL's collation may not sort like SQLite's binary order). */
const sorted = (rows: Row[]) => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

function rshare(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  for (const name of Object.keys(env)) if (name.startsWith('RSHARE_')) delete env[name];
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('copy table list', () => {
  test('assertCopiesEverything: given the current SQLite schema, when checked, then the copy knows every table and column; given an extra table or column, then it refuses naming them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rshare-copy-schema-'));
    const store = openSqliteStore(join(dir, 'rshare.db'));
    try {
      assert.doesNotThrow(() => assertCopiesEverything(store.db));
      store.db.exec('CREATE TABLE audit_log (id TEXT PRIMARY KEY)');
      store.db.exec('ALTER TABLE shares ADD COLUMN description TEXT');
      assert.throws(() => assertCopiesEverything(store.db), {
        message: 'this rshare version does not know how to copy table audit_log, column shares.description',
      });
    } finally {
      store.db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rshare migrate-store: embedded SQLite store copied into PostgreSQL', () => {
  let server: PostgresServer | undefined;
  let dir: string;
  let sqlitePath: string;
  let source: SqliteStore;
  let sourceApp: App;
  const clock = new ManualClock();
  const databases: string[] = [];
  const opened: PostgresStore[] = [];
  const apps: App[] = [];
  let shareA: string;
  let shareB: string;

  /** A new, empty database on the test cluster. */
  async function freshDatabase(): Promise<string> {
    assert.ok(server);
    const name = `rshare_copy_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client(server.url);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    databases.push(name);
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async function open(url: string): Promise<PostgresStore> {
    const store = await openPostgresStore(url, { max: 4 });
    opened.push(store);
    return store;
  }

  async function rowsOf(pool: pg.Pool | Database.Database, table: string): Promise<Row[]> {
    if (pool instanceof pg.Pool) return (await pool.query<Row>(`SELECT * FROM ${table}`)).rows;
    return pool.prepare(`SELECT * FROM ${table}`).all() as Row[];
  }

  async function countsOf(pool: pg.Pool): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const t of TABLES) {
      counts[t.name] =
        (await pool.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.name}`)).rows[0]?.n ?? -1;
    }
    return counts;
  }

  const cluster = suiteCluster('copy-store');
  const skipped = cluster.skipped;

  before(async () => {
    server = await cluster.start();
    if (!server) return;
    dir = mkdtempSync(join(tmpdir(), 'rshare-copy-'));
    sqlitePath = join(dir, 'rshare.db');
    source = openSqliteStore(sqlitePath);
    await applyBootstrap(new TenancyService(source.tenancy, clock), BOOTSTRAP, 'test bootstrap');
    sourceApp = await buildApp({ store: source, clock });
    const ok = async (method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
      clock.advance(1000);
      const res = await call(sourceApp, method, `/client/v4/accounts/${OWNER}${url}`, { token: TOKEN, body });
      assert.ok(res.status === 200 || res.status === 201, `${method} ${url}: ${JSON.stringify(res.body)}`);
      return res.body.result as { id: string };
    };
    const resource = (n: number, meta: Record<string, unknown>) => ({
      resource_id: hexId(n, 'e'),
      resource_type: 'custom-ruleset',
      resource_account_id: OWNER,
      meta,
    });

    // Account-targeted share with tags, delivered by a reconciler pass, then changed again (work pending).
    const a = await ok('POST', '/shares', {
      name: 'account share',
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }, { recipient_account_id: R3 }],
      resources: [resource(1, { zeta: 1, alpha: { nested: [1, 'two', null] } }), resource(2, {})],
      tags: { team: 'blue', env: 'prod' },
    });
    shareA = a.id;
    // Organization-targeted share with an exclusion.
    const b = await ok('POST', '/shares', {
      name: 'organization share',
      recipients: [{ organization_id: ORG }],
      resources: [resource(3, { rule: 'r3' })],
    });
    shareB = b.id;
    await ok('POST', `/shares/${shareB}/excluded-recipients`, { account_id: R2 });
    const reconciler = buildReconciler({ store: source, clock });
    await reconciler.reconcileOnce();
    assert.equal(await source.reconciler.pendingCount(), 0);
    // A departure the organization's sync has not consumed yet (as a move leaves it, with its work).
    source.db
      .prepare('INSERT INTO organization_departures (organization_id, account_id) VALUES (?, ?)')
      .run(ORG, R3);
    // Leave work behind: a resource update, a removed recipient, a deleted resource; one item leased.
    const listed = await call(sourceApp, 'GET', `/client/v4/accounts/${OWNER}/shares/${shareA}/resources`, {
      token: TOKEN,
    });
    const [first, second] = listed.body.result as { id: string }[];
    assert.ok(first && second);
    await ok('PUT', `/shares/${shareA}/resources/${first.id}`, { meta: { zeta: 2 } });
    await ok('DELETE', `/shares/${shareA}/resources/${second.id}`);
    const recipients = await call(
      sourceApp,
      'GET',
      `/client/v4/accounts/${OWNER}/shares/${shareA}/recipients`,
      {
        token: TOKEN,
      },
    );
    const r2 = (recipients.body.result as { id: string; account_id: string }[]).find(
      (r) => r.account_id === R2,
    );
    assert.ok(r2);
    await ok('DELETE', `/shares/${shareA}/recipients/${r2.id}`);
    const leased = await source.reconciler.claim(LEASED_BY, clock.now(), 3_600_000, 1);
    assert.equal(leased.length, 1);
  });

  after(async () => {
    for (const app of apps) await app.close();
    await sourceApp?.close();
    await source?.close();
    for (const store of opened) await store.close();
    if (server) {
      const admin = new pg.Client(server.url);
      await admin.connect();
      for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      server.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('copyStore: given an embedded store with rows in every table, when copying into an empty database, then every row arrives converted (booleans, jsonb, timestamps) and the counts are returned per table', async (t) => {
    if (skipped(t)) return;
    const url = await freshDatabase();
    const counts = await copyStore(sqlitePath, url);

    const expectedCounts: Record<string, number> = {};
    for (const table of TABLES) expectedCounts[table.name] = (await rowsOf(source.db, table.name)).length;
    assert.deepEqual(counts, expectedCounts);
    assert.deepEqual(
      Object.keys(counts),
      TABLES.map((x) => x.name),
    );
    for (const [name, n] of nonEmpty(Object.entries(counts), 'copied tables'))
      assert.ok(n > 0, `the fixture leaves ${name} empty`);

    const target = await open(url);
    for (const table of TABLES) {
      const want = (await rowsOf(source.db, table.name)).map((r) => expectedRow(table.name, r));
      const got = await rowsOf(target.pool, table.name);
      assert.deepEqual(sorted(got), sorted(want), table.name);
    }
    // The conversions really happened (not merely equal after a lenient comparison).
    const { rows: types } = await target.pool.query<{ can_edit: string; meta: string; created: string }>(
      `SELECT pg_typeof(t.can_edit)::text AS can_edit, pg_typeof(r.meta)::text AS meta,
              pg_typeof(r.created)::text AS created
       FROM tokens t, share_resources r LIMIT 1`,
    );
    assert.deepEqual(types, [{ can_edit: 'boolean', meta: 'jsonb', created: 'timestamp with time zone' }]);
    const { rows: terminal } = await target.pool.query(
      'SELECT COUNT(*)::int AS n FROM recipient_resources WHERE terminal AND applied_version IS NULL',
    );
    // R3 (entitled to nothing) holds a terminal error for each resource of both shares.
    assert.deepEqual(terminal, [{ n: 3 }]);
    // Analyzed at the end of the copy: the first requests plan with statistics, not on an empty guess.
    const { rows: analyzed } = await target.pool.query<{ tablename: string }>(
      `SELECT DISTINCT tablename FROM pg_stats
       WHERE tablename IN ('shares', 'share_tags', 'share_visibility') ORDER BY tablename`,
    );
    assert.deepEqual(
      analyzed.map((r) => r.tablename),
      ['share_tags', 'share_visibility', 'shares'],
    );
  });

  test('copyStore: given a copied store, when the API runs on it, then every read answers exactly as the embedded store did, and the pending work (its stale lease cleared) converges on PostgreSQL', async (t) => {
    if (skipped(t)) return;
    const url = await freshDatabase();
    await copyStore(sqlitePath, url);
    const target = await open(url);
    const targetApp = await buildApp({ store: target, clock });
    apps.push(targetApp);

    const reads: [string, string][] = [
      [TOKEN, `/accounts/${OWNER}/shares?include_resources=true&include_recipient_counts=true`],
      [TOKEN, `/accounts/${OWNER}/shares?tag=team=blue`],
      [TOKEN, `/organizations/${ORG}/shares?include_recipient_counts=true`],
      [TOKEN, `/accounts/${OWNER}/shares/${shareA}?include_resources=true&include_recipient_counts=true`],
      [TOKEN, `/accounts/${OWNER}/shares/${shareA}/recipients?include_resources=true`],
      [TOKEN, `/accounts/${OWNER}/shares/${shareB}/recipients?include_resources=true`],
      [TOKEN, `/accounts/${OWNER}/shares/${shareA}/resources`],
      [TOKEN, `/accounts/${OWNER}/shares/${shareB}/excluded-recipients`],
      [R1_TOKEN, `/accounts/${R1}/shares?include_resources=true`],
      [R1_TOKEN, `/accounts/${R1}/shared-resources`],
      [TOKEN, `/accounts/${R2}/shared-resources`],
      [TOKEN, `/accounts/${R3}/shared-resources`],
      [DISABLED, `/accounts/${OWNER}/shares`],
      [EXPIRED, `/accounts/${OWNER}/shares`],
    ];
    for (const [token, path] of reads) {
      const want = await call(sourceApp, 'GET', `/client/v4${path}`, { token });
      const got = await call(targetApp, 'GET', `/client/v4${path}`, { token });
      assert.equal(got.status, want.status, path);
      assert.deepEqual(got.body, want.body, path);
    }
    const userRead = async (app: App): Promise<Reply> =>
      call(app, 'GET', `/client/v4/accounts/${OWNER}/shares`, {
        token: null,
        headers: { 'x-auth-email': USER.email, 'x-auth-key': USER.api_key },
      });
    const viaUser = await userRead(targetApp);
    assert.equal(viaUser.status, 200);
    assert.deepEqual(viaUser.body, (await userRead(sourceApp)).body);

    // The embedded worker's lease would have kept its item for an hour; the copy makes it due at once.
    assert.equal(await target.reconciler.pendingCount(), await source.reconciler.pendingCount());
    const due = await target.reconciler.claim('probe', clock.now(), 1, 1000);
    assert.equal(due.length, await target.reconciler.pendingCount());
    clock.advance(10);
    const reconciler = buildReconciler({ store: target, clock });
    await reconciler.reconcileOnce();
    assert.equal(await target.reconciler.pendingCount(), 0);
    const share = await call(
      targetApp,
      'GET',
      `/client/v4/accounts/${OWNER}/shares/${shareA}?include_resources=true&include_recipient_counts=true`,
      { token: TOKEN },
    );
    assert.equal(share.status, 200);
    const result = share.body.result as Record<string, unknown> & {
      resources: { resource_id: string; status: string; resource_version: number; meta: unknown }[];
    };
    assert.deepEqual(
      {
        associating: result.associating_recipient_count,
        associated: result.associated_recipient_count,
        disassociating: result.disassociating_recipient_count,
        disassociated: result.disassociated_recipient_count,
      },
      // R1 holds the update; R3 is associated with terminal errors; R2 was removed.
      { associating: 0, associated: 2, disassociating: 0, disassociated: 1 },
    );
    assert.deepEqual(
      result.resources.map((r) => [r.resource_id, r.status, r.resource_version, r.meta]),
      [
        [hexId(1, 'e'), 'active', 2, { zeta: 2 }],
        [hexId(2, 'e'), 'deleted', 1, {}],
      ],
    );
    const held = await call(targetApp, 'GET', `/client/v4/accounts/${R1}/shared-resources`, {
      token: R1_TOKEN,
    });
    assert.deepEqual(
      (held.body.result as { resource_id: string; resource_version: number; meta: unknown }[])
        .map((r) => [r.resource_id, r.resource_version, r.meta])
        .sort(),
      [
        [hexId(1, 'e'), 2, { zeta: 2 }],
        [hexId(3, 'e'), 1, { rule: 'r3' }],
      ],
    );
  });

  test('copyStore: given a target that already holds data, when copying, then it refuses naming the filled tables and changes nothing', async (t) => {
    if (skipped(t)) return;
    const url = await freshDatabase();
    const first = await copyStore(sqlitePath, url);
    const target = await open(url);
    await assert.rejects(copyStore(sqlitePath, url), {
      message: new RegExp(
        `^the target database is not empty \\(organizations: 1 rows, accounts: 5 rows, .*inventory: ${first.inventory} rows, audit_logs: ${first.audit_logs} rows\\); migrate-store only copies into an empty database$`,
      ),
    });
    assert.deepEqual(await countsOf(target.pool), first);
  });

  test('copyStore: given a row PostgreSQL rejects half-way through, when copying, then the whole copy rolls back and the target stays empty', async (t) => {
    if (skipped(t)) return;
    const broken = join(dir, 'broken.db');
    // A consistent file copy: SQLite has checkpointed nothing we need once the WAL is folded in.
    source.db.pragma('wal_checkpoint(TRUNCATE)');
    copyFileSync(sqlitePath, broken);
    const db = new Database(broken);
    db.pragma('foreign_keys = OFF'); // better-sqlite3 enables them; the bad id must get in
    // share_recipients is copied after tenancy and shares; its account_id is char(32) in PostgreSQL.
    db.prepare('UPDATE share_recipients SET account_id = ? WHERE account_id = ?').run(`${R1}ff`, R1);
    db.close();
    const url = await freshDatabase();
    await assert.rejects(copyStore(broken, url), /value too long for type character\(32\)/);
    const target = await open(url);
    const counts = await countsOf(target.pool);
    assert.deepEqual(counts, Object.fromEntries(TABLES.map((x) => [x.name, 0])));
  });

  test('copyStore: given a target that is not a PostgreSQL URL or a source file that does not exist, when copying, then it refuses before touching anything', async (t) => {
    if (skipped(t)) return;
    await assert.rejects(copyStore(sqlitePath, join(dir, 'other.db')), {
      message: `--to must be a postgres:// or postgresql:// URL, not ${JSON.stringify(join(dir, 'other.db'))}`,
    });
    const url = await freshDatabase();
    await assert.rejects(copyStore(join(dir, 'missing.db'), url), {
      message: `cannot open the SQLite store ${join(dir, 'missing.db')}: unable to open database file`,
    });
  });

  test('rshare migrate-store: given the CLI, when copying into an empty database and then again, then it prints the rows per table, exits 0, and the admin commands work on the PostgreSQL URL; the second run exits 1 with the refusal', async (t) => {
    if (skipped(t)) return;
    const url = await freshDatabase();
    const copied = rshare('migrate-store', '--from', sqlitePath, '--to', url, '--json');
    assert.equal(copied.status, 0, copied.stderr);
    const counts = JSON.parse(copied.stdout) as Record<string, number>;
    assert.deepEqual(
      Object.keys(counts),
      TABLES.map((x) => x.name),
    );
    assert.equal(counts.organizations, 1);
    assert.equal(counts.accounts, 5);
    assert.equal(counts.tokens, 4);

    const text = rshare('migrate-store', '--from', sqlitePath, '--to', url);
    assert.equal(text.status, 1);
    assert.equal(text.stdout, '');
    assert.match(text.stderr, /^rshare: the target database is not empty \(organizations: 1 rows, /);

    const orgs = rshare('org', 'list', '--database', url, '--json');
    assert.equal(orgs.status, 0, orgs.stderr);
    const listed = JSON.parse(orgs.stdout) as { id: string; name: string }[];
    assert.deepEqual(
      listed.map((o) => [o.id, o.name]),
      [[ORG, 'Copy Org']],
    );
    const created = rshare(
      'account',
      'create',
      '--database',
      url,
      '--name',
      'Added on PG',
      '--org',
      ORG,
      '--json',
    );
    assert.equal(created.status, 0, created.stderr);
    const account = JSON.parse(created.stdout) as { id: string; organization_id: string };
    assert.equal(account.organization_id, ORG);
    const target = await open(url);
    const { rows } = await target.pool.query('SELECT name, organization_id FROM accounts WHERE id = $1', [
      account.id,
    ]);
    assert.deepEqual(rows, [{ name: 'Added on PG', organization_id: ORG }]);
  });

  test('rshare migrate-store: given the text output, when copying, then it names the source and every table with its row count', async (t) => {
    if (skipped(t)) return;
    const url = await freshDatabase();
    const res = rshare('migrate-store', '--from', sqlitePath, '--to', url);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      new RegExp(
        `^Copied \\d+ rows from ${sqlitePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to PostgreSQL:$`,
      ),
    );
    assert.deepEqual(
      lines.slice(1).map((l) => l.trim().split(/\s+/)[0]),
      TABLES.map((x) => x.name),
    );
    const total = lines.slice(1).reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[1]), 0);
    assert.equal(lines[0], `Copied ${total} rows from ${sqlitePath} to PostgreSQL:`);
  });
});
