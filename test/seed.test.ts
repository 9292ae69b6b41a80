import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import type { App } from '../src/http/types.js';
import { systemClock } from '../src/lib/clock.js';
import { seedStore, type SeedOutput } from '../src/emulator/seed/service.js';
import { ownerOf, recipientOf, StoreNotEmptyError } from '../src/emulator/seed/store.js';
import { call, TIMESTAMP } from './helpers.js';
import { openTestStore, STORE_KIND, type TestStore } from './support/store.js';
import { buildReconciler } from './support/reconciler.js';
import { nonEmpty } from './support/assert.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'src', 'cli.ts');
const ACCOUNTS = 4;
const SHARES = 40;
const TOKEN = 'seed-test-token-value-000000000001';

/** The store's indexes and their definitions: the seed rebuilds some and must leave them as they were. */
const indexes = (db: TestStore) =>
  db.store.kind === 'sqlite'
    ? db.sql(`SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name`)
    : db.sql(
        'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname',
      );

/** Every row of a table, in a fixed order, for before/after comparisons. */
const snapshot = (db: TestStore, table: string, orderBy: string) =>
  db.sql(`SELECT * FROM ${table} ORDER BY ${orderBy}`);

describe('rshare seed', () => {
  let db: TestStore;
  let app: App;
  let seeded: SeedOutput;
  let indexesBefore: Record<string, unknown>[];
  const get = (url: string) => call(app, 'GET', `/client/v4${url}`, { token: seeded.token });
  const account = (i: number) => seeded.account_ids[i] as string;

  before(async () => {
    db = await openTestStore();
    indexesBefore = await indexes(db);
    seeded = await seedStore(db.store, { accounts: ACCOUNTS, shares: SHARES, token: TOKEN });
    app = await buildApp({ store: db.store });
  });

  after(async () => {
    await app.close();
    await db.close();
  });

  test('given a seeded store, when listing each account, then it sends and receives an even share of them', async () => {
    assert.equal(seeded.token, TOKEN);
    assert.equal(seeded.account_ids.length, ACCOUNTS);
    for (let a = 0; a < ACCOUNTS; a++) {
      const list = (kind: string) => get(`/accounts/${account(a)}/shares?per_page=50${kind}`);
      const sent = await list('&kind=sent');
      const received = await list('&kind=received');
      const all = await list('');
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal(sent.body.result_info.total_count, SHARES / ACCOUNTS);
      assert.equal(received.body.result_info.total_count, SHARES / ACCOUNTS);
      assert.equal(all.body.result_info.total_count, (2 * SHARES) / ACCOUNTS);
      for (const s of nonEmpty(sent.body.result as { account_id: string }[], 'sent shares'))
        assert.equal(s.account_id, account(a));
      for (const s of nonEmpty(received.body.result as { account_id: string }[], 'received shares'))
        assert.notEqual(s.account_id, account(a));
    }
  });

  test('given a seeded store, when listing the organization, then every share is there in name and creation order', async () => {
    const byCreated = await get(`/organizations/${seeded.organization_id}/shares?per_page=50`);
    const byName = await get(`/organizations/${seeded.organization_id}/shares?per_page=50&order=name`);
    assert.equal(byCreated.status, 200, JSON.stringify(byCreated.body));
    assert.equal(byCreated.body.result_info.total_count, SHARES);
    const names = byCreated.body.result.map((s: { name: string }) => s.name);
    assert.equal(names[0], 'share 000001');
    assert.equal(new Set(names).size, SHARES);
    assert.deepEqual(
      byName.body.result.map((s: { id: string }) => s.id),
      byCreated.body.result.map((s: { id: string }) => s.id),
    );
    const created = byCreated.body.result.map((s: { created: string }) => s.created);
    for (const t of created) assert.match(t, TIMESTAMP);
    for (let i = 1; i < created.length; i++) assert.ok(created[i - 1] < created[i], 'strictly increasing');
  });

  test('given a seeded store, when filtering on env=prod, then half the shares match', async () => {
    let total = 0;
    for (let a = 0; a < ACCOUNTS; a++) {
      const prod = await get(`/accounts/${account(a)}/shares?per_page=50&tag=env=prod`);
      const involved = Array.from({ length: SHARES }, (_, i) => i).filter(
        (i) => i % 2 === 0 && (ownerOf(i, ACCOUNTS) === a || recipientOf(i, ACCOUNTS) === a),
      );
      assert.equal(prod.body.result_info.total_count, involved.length);
      for (const s of prod.body.result) assert.deepEqual(s.tags, { env: 'prod' });
      total += prod.body.result_info.total_count;
    }
    // Each share shows in two accounts' lists: its owner's and its recipient's.
    assert.equal(total, SHARES);
  });

  test('given share 7, when reading it, its recipient and its resource, then the recipient holds it delivered', async () => {
    const i = 7;
    const owner = account(ownerOf(i, ACCOUNTS));
    const receiver = account(recipientOf(i, ACCOUNTS));
    assert.notEqual(owner, receiver);
    const list = await get(`/organizations/${seeded.organization_id}/shares?per_page=50`);
    const id = list.body.result[i].id as string;
    const share = await get(`/accounts/${owner}/shares/${id}`);
    assert.equal(share.status, 200, JSON.stringify(share.body));
    assert.equal(share.body.result.name, 'share 000008');
    assert.equal(share.body.result.status, 'active');
    assert.equal(share.body.result.target_type, 'account');
    assert.deepEqual(share.body.result.tags, { env: 'dev' });

    const recipients = await get(`/accounts/${owner}/shares/${id}/recipients`);
    assert.equal(recipients.body.result_info.total_count, 1);
    const [recipient] = recipients.body.result;
    assert.equal(recipient.account_id, receiver);
    assert.equal(recipient.association_status, 'associated');

    const resources = await get(`/accounts/${owner}/shares/${id}/resources`);
    assert.equal(resources.body.result_info.total_count, 1);
    const [resource] = resources.body.result;
    assert.equal(resource.resource_type, 'custom-ruleset');
    assert.equal(resource.resource_account_id, owner);
    assert.equal(resource.resource_version, 1);
    assert.equal(resource.status, 'active');

    const inventory = await get(`/accounts/${receiver}/shared-resources?per_page=50`);
    assert.equal(inventory.body.result_info.total_count, SHARES / ACCOUNTS);
    const held = inventory.body.result.find((r: { share_id: string }) => r.share_id === id);
    assert.deepEqual(
      { ...held, created: undefined, modified: undefined },
      {
        id: resource.id,
        share_id: id,
        resource_id: resource.resource_id,
        resource_type: 'custom-ruleset',
        resource_account_id: owner,
        meta: resource.meta,
        resource_version: 1,
        created: undefined,
        modified: undefined,
      },
    );
  });

  test('given a seeded store, when the reconciler re-examines every recipient, then it finds nothing to do', async () => {
    assert.equal(await db.store.reconciler.pendingCount(), 0);
    const before = [
      await snapshot(db, 'recipient_resources', 'recipient_id'),
      await snapshot(db, 'inventory', 'share_resource_id'),
      await snapshot(db, 'share_recipients', 'id'),
    ];
    for (const r of await db.sql('SELECT id FROM share_recipients')) {
      await db.store.reconciler.enqueue('recipient', r.id as string);
    }
    const reconciler = buildReconciler({ store: db.store, clock: systemClock });
    const report = await reconciler.reconcileOnce();
    assert.equal(report.processed, SHARES);
    assert.deepEqual(report.transitions, []);
    assert.equal(await db.store.reconciler.pendingCount(), 0);
    assert.deepEqual(
      [
        await snapshot(db, 'recipient_resources', 'recipient_id'),
        await snapshot(db, 'inventory', 'share_resource_id'),
        await snapshot(db, 'share_recipients', 'id'),
      ],
      before,
    );
  });

  test('given a seeded store, when a share is created through the API, then it numbers and lists after the seed', async () => {
    const seqs = await db.sql('SELECT org_seq FROM shares ORDER BY created, id');
    assert.deepEqual(
      seqs.map((r) => Number(r.org_seq)),
      Array.from({ length: SHARES }, (_, i) => i + 1),
    );
    const [org] = await db.sql('SELECT share_count FROM organizations WHERE id = ?', seeded.organization_id);
    assert.equal(Number(org?.share_count), SHARES);

    const created = await call(app, 'POST', `/client/v4/accounts/${account(0)}/shares`, {
      token: seeded.token,
      body: { name: 'after the seed', recipients: [{ recipient_account_id: account(1) }], resources: [] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const [row] = await db.sql('SELECT org_seq FROM shares WHERE id = ?', created.body.result.id);
    assert.equal(Number(row?.org_seq), SHARES + 1);
    const last = await get(`/organizations/${seeded.organization_id}/shares?per_page=1&direction=desc`);
    assert.equal(last.body.result[0].id, created.body.result.id);
    assert.equal(last.body.result_info.total_count, SHARES + 1);
  });

  test('given a seeded store, when reading its schema, then every index is there as the migrations made it', async () => {
    assert.ok(indexesBefore.length > 10);
    assert.deepEqual(await indexes(db), indexesBefore);
  });

  test(
    'given a seeded PostgreSQL store, when reading its statistics, then the planner has statistics for the bulk tables',
    { skip: STORE_KIND !== 'postgres' && 'PostgreSQL only: SQLite plans these queries without statistics' },
    async () => {
      for (const table of ['shares', 'share_tags', 'share_resources', 'share_visibility']) {
        const [stats] = await db.sql('SELECT COUNT(*) AS n FROM pg_stats WHERE tablename = ?', table);
        assert.ok(Number(stats?.n) > 0, `${table} has planner statistics`);
      }
    },
  );

  test('given a seeded store, when seeding it again, then it refuses and writes nothing', async () => {
    const count = async () => Number((await db.sql('SELECT COUNT(*) AS n FROM accounts'))[0]?.n);
    const accounts = await count();
    await assert.rejects(
      seedStore(db.store, { accounts: 2, shares: 1 }),
      (err: Error) => err instanceof StoreNotEmptyError && /not empty/.test(err.message),
    );
    assert.equal(await count(), accounts);
  });
});

describe('rshare seed refusals', () => {
  let db: TestStore;
  before(async () => {
    db = await openTestStore();
  });
  after(() => db.close());

  test('given too few accounts or a negative share count, when seeding, then a clear error and nothing written', async () => {
    await assert.rejects(
      seedStore(db.store, { accounts: 1, shares: 10 }),
      /--accounts must be .* at least 2/,
    );
    await assert.rejects(seedStore(db.store, { accounts: 3, shares: -1 }), /--shares must be a non-negative/);
    assert.equal((await db.sql('SELECT id FROM organizations')).length, 0);
  });

  test('given a --token shorter than 16 characters, when seeding, then it is refused saying why and nothing is written', async () => {
    await assert.rejects(seedStore(db.store, { accounts: 2, shares: 1, token: 'fifteen-chars-x' }), {
      message: '--token must be at least 16 characters: shorter tokens can be guessed',
    });
    assert.equal((await db.sql('SELECT id FROM tokens')).length, 0);
  });

  test('given a store holding only an organization, when seeding, then it refuses naming what it holds', async () => {
    const now = systemClock.timestamp();
    const id = 'f'.repeat(32);
    await db.store.tenancy.upsertOrganization({ id, name: 'Existing', created: now, modified: now });
    await assert.rejects(
      seedStore(db.store, { accounts: 2, shares: 2 }),
      /not empty \(it holds organizations\)/,
    );
    assert.equal((await db.sql('SELECT id FROM shares')).length, 0);
  });
});

describe('rshare seed CLI', () => {
  let db: TestStore;
  before(async () => {
    db = await openTestStore();
  });
  after(() => db.close());

  const rshare = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', CLI, 'seed', ...args, '--database', db.url], {
      cwd: ROOT,
      encoding: 'utf8',
    });

  test('given an empty database, when running `rshare seed --json`, then it prints the organization, accounts and token', async () => {
    const run = rshare('--accounts', '3', '--shares', '12', '--json');
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as SeedOutput;
    assert.deepEqual(Object.keys(out), ['organization_id', 'account_ids', 'token']);
    assert.match(out.organization_id, /^[0-9a-f]{32}$/);
    assert.equal(out.account_ids.length, 3);
    for (const id of out.account_ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.ok(out.token.length >= 32);
    const [shares] = await db.sql('SELECT COUNT(*) AS n FROM shares');
    assert.equal(Number(shares?.n), 12);
  });

  test('given a seeded database or bad options, when running `rshare seed`, then it fails with a clear message', () => {
    const again = rshare('--accounts', '3', '--shares', '12');
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /refusing to seed: the store is not empty/);
    const bad = rshare('--accounts', '1', '--shares', '12');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--accounts.*expected an integer of at least 2/);
    const negative = rshare('--accounts', '2', '--shares', '-3');
    assert.notEqual(negative.status, 0);
  });
});
