import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../src/app.js';
import { openSqliteStore, type SqliteStore } from '../src/adapters/sqlite/index.js';
import { TABLES } from '../src/adapters/tables.js';
import type { ApiError } from '../src/http/errors.js';
import type { App } from '../src/http/types.js';
import { hashSecret } from '../src/lib/secrets.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import { stateRoutes } from '../src/emulator/state/routes.js';
import type { StateDocument } from '../src/emulator/state/schemas.js';
import { StateService } from '../src/emulator/state/service.js';
import type { StateRows } from '../src/emulator/state/store.js';
import {
  assertError,
  base,
  call,
  hexId,
  LONER,
  ORG,
  OTHER_ORG,
  OWNER,
  R1,
  R2,
  R3,
  setup,
  STRANGER,
  TOKENS,
  type Harness,
  type Reply,
} from './helpers.js';
import { openTestStore, STORE_KIND, type TestStore } from './support/store.js';
import { buildReconciler } from './support/reconciler.js';

const ADMIN = 'admin-token-for-state-tests-01';
const STATE = '/_rshare/state';
const orgList = (org = ORG) => `/client/v4/organizations/${org}/shares?per_page=100`;

interface StateHarness extends Harness {
  service: StateService;
  /** The admin API (state routes under /_rshare, behind ADMIN), on the same store as `app`. */
  admin: App;
  reconciler: Reconciler;
}

async function open(): Promise<StateHarness> {
  const h = await setup();
  const service = new StateService(h.store.state);
  const admin = await buildApp({
    store: h.store,
    clock: h.clock,
    api: false,
    admin: { token: ADMIN, routes: (a) => stateRoutes(a, service) },
  });
  const reconciler = buildReconciler({ store: h.store, clock: h.clock });
  return {
    ...h,
    service,
    admin,
    reconciler,
    async close() {
      await admin.close();
      await h.close();
    },
  };
}

/** Runs the reconciler until no work is left (a bounded number of passes). */
async function settle(t: StateHarness): Promise<void> {
  for (let i = 0; i < 10 && (await t.store.reconciler.pendingCount()) > 0; i++) {
    await t.reconciler.reconcileOnce();
  }
  assert.equal(await t.store.reconciler.pendingCount(), 0);
}

const ruleset = (n: number, owner = OWNER) => ({
  resource_account_id: owner,
  resource_id: hexId(n, 'e'),
  resource_type: 'custom-ruleset',
  meta: { mode: 'block', n },
});

async function ok(res: Reply | Promise<Reply>, status = 200): Promise<Reply> {
  const r = await res;
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r;
}

interface Shares {
  /** OWNER → R1, R2, tagged; its resource changed after delivery (recipient work pending). */
  a: string;
  /** OWNER → the organization, R3 excluded; delivered. */
  b: string;
  /** STRANGER's, in OTHER_ORG, no recipients. */
  c: string;
  /** OWNER → R1, deleted after delivery (share and recipient work pending). */
  d: string;
  /** STRANGER's, deleted (share work pending). */
  e: string;
}

/**
 * Shares in both organizations through the API, delivered by the reconciler, then changed again so that
 * every kind of row exists: tags, recipients, resources, an exclusion, delivery states, inventory, and
 * pending work of kinds share and recipient.
 */
async function populate(t: StateHarness): Promise<Shares> {
  await settle(t); // setup()'s accounts queued organization work
  // Upserting an existing token stamps its `modified` in SQL (SQLite: milliseconds only).
  const token = await t.store.tenancy.getToken(hexId(1, 'c'));
  assert.ok(token);
  await t.store.tenancy.upsertToken(token);
  const create = async (account: string, token: string, body: Record<string, unknown>) => {
    t.clock.advance(1);
    const res = await ok(call(t.app, 'POST', base(account), { token, body }), 201);
    return res.body.result.id as string;
  };
  const a = await create(OWNER, TOKENS.owner, {
    name: 'to R1 and R2',
    recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
    resources: [ruleset(1)],
    tags: { team: 'blue', env: 'prod' },
  });
  const b = await create(OWNER, TOKENS.owner, {
    name: 'to the organization',
    recipients: [{ organization_id: ORG }],
    resources: [ruleset(2)],
  });
  await ok(call(t.app, 'POST', `${base()}/${b}/excluded-recipients`, { body: { account_id: R3 } }), 201);
  const c = await create(STRANGER, TOKENS.stranger, {
    name: 'other organization',
    recipients: [],
    resources: [ruleset(3, STRANGER)],
    tags: { env: 'dev' },
  });
  const d = await create(OWNER, TOKENS.owner, {
    name: 'to be deleted',
    recipients: [{ recipient_account_id: R1 }],
    resources: [ruleset(4)],
  });
  const e = await create(STRANGER, TOKENS.stranger, {
    name: 'other, deleted',
    recipients: [],
    resources: [ruleset(5, STRANGER)],
  });
  await settle(t);
  t.clock.advance(1);
  const resources = await ok(call(t.app, 'GET', `${base()}/${a}/resources`));
  const resourceId = resources.body.result[0].id as string;
  await ok(call(t.app, 'PUT', `${base()}/${a}/resources/${resourceId}`, { body: { meta: { mode: 'log' } } }));
  await ok(call(t.app, 'DELETE', `${base()}/${d}`));
  await ok(call(t.app, 'DELETE', `${base(STRANGER)}/${e}`, { token: TOKENS.stranger }));
  // Tenancy rows no share needs: entitlements, a departure, queued organization work.
  const loner = await t.store.tenancy.getAccount(LONER);
  assert.ok(loner);
  await t.store.tenancy.upsertAccount({ ...loner, entitlements: ['gateway-policy', 'custom-ruleset'] });
  await t.sql('INSERT INTO organization_departures (organization_id, account_id) VALUES (?, ?)', ORG, LONER);
  await t.store.reconciler.enqueue('organization', OTHER_ORG);
  return { a, b, c, d, e };
}

/** What API clients see of the populated store. */
async function answers(t: { app: App }, s: Shares): Promise<unknown[]> {
  const get = async (url: string, token: string = TOKENS.owner) => {
    const res = await ok(call(t.app, 'GET', url, { token }));
    return res.body as unknown;
  };
  const full = 'include_resources=true&include_recipient_counts=true';
  return Promise.all([
    get(`${base()}/${s.a}?${full}`),
    get(`${base()}/${s.a}/recipients?include_resources=true&per_page=100`),
    get(`${base()}/${s.a}/resources`),
    get(`${base()}/${s.b}?${full}`),
    get(`${base()}/${s.b}/recipients?include_resources=true&per_page=100`),
    get(`${base()}/${s.b}/excluded-recipients`),
    get(`${base()}/${s.d}?${full}`),
    get(`${base()}?${full}&per_page=100`),
    get(`${base(R1)}?per_page=100`, TOKENS.r1),
    get(`${base(R2)}?kind=received&tag=env=prod`, TOKENS.r2),
    get(orgList(), TOKENS.org),
    get(`/client/v4/accounts/${R1}/shared-resources`, TOKENS.r1),
    get(`/client/v4/accounts/${R2}/shared-resources`, TOKENS.r2),
    get(`${base(STRANGER)}/${s.c}?${full}`, TOKENS.stranger),
    get(`${base(STRANGER)}?per_page=100`, TOKENS.stranger),
  ]);
}

/** Rows per table, derived ones included. */
async function counts(t: Harness): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of TABLES.map((x) => x.name)) {
    const [row] = await t.sql(`SELECT COUNT(*) AS n FROM ${name}`);
    out[name] = Number(row?.n);
  }
  return out;
}

/** The document once an organization's shares and everything under them are gone. */
function withoutOrganization(doc: StateDocument, organizationId: string): StateDocument {
  const shares = new Set(doc.shares.filter((s) => s.organization_id === organizationId).map((s) => s.id));
  const recipients = new Set(doc.recipients.filter((r) => shares.has(r.share_id)).map((r) => r.id));
  return {
    ...doc,
    shares: doc.shares.filter((s) => !shares.has(s.id)),
    recipients: doc.recipients.filter((r) => !shares.has(r.share_id)),
    resources: doc.resources.filter((r) => !shares.has(r.share_id)),
    excluded_recipients: doc.excluded_recipients.filter((e) => !shares.has(e.share_id)),
    deliveries: doc.deliveries.filter((d) => !recipients.has(d.recipient_id)),
    inventory: doc.inventory.filter((i) => !shares.has(i.share_id)),
    work: doc.work.filter(
      (w) => !(w.kind === 'share' && shares.has(w.id)) && !(w.kind === 'recipient' && recipients.has(w.id)),
    ),
  };
}

/** The tenancy part of a document, as the admin reset restores it. */
const tenancyOnly = (doc: StateDocument): StateDocument => ({
  ...withoutOrganization(withoutOrganization(doc, ORG), OTHER_ORG),
  work: [],
});

/** A store filled by `populate` and the document it exports: where each snapshot suite starts. */
async function populated(): Promise<{ t: StateHarness; shares: Shares; doc: StateDocument }> {
  const t = await open();
  const shares = await populate(t);
  return { t, shares, doc: await t.service.exportState() };
}

const clone = (doc: StateDocument): StateDocument => structuredClone(doc);

describe('state snapshots', () => {
  let t: StateHarness;
  let shares: Shares;
  let doc: StateDocument;
  before(async () => {
    ({ t, shares, doc } = await populated());
  });
  after(() => t.close());

  test('given a populated store, when it is exported, then every kind of row is in the document, secrets as digests only', async () => {
    assert.equal(doc.format_version, 2);
    assert.deepEqual(
      doc.shares.map((s) => s.id),
      Object.values(shares).sort(),
    );
    const a = doc.shares.find((s) => s.id === shares.a);
    assert.deepEqual(a?.tags, { env: 'prod', team: 'blue' });
    assert.deepEqual(Object.keys(a?.tags ?? {}), ['env', 'team']);
    for (const key of [
      'recipients',
      'resources',
      'excluded_recipients',
      'deliveries',
      'inventory',
    ] as const) {
      assert.ok(doc[key].length > 0, key);
    }
    assert.deepEqual([...new Set(doc.work.map((w) => w.kind))].sort(), [
      'organization',
      'recipient',
      'share',
    ]);
    assert.deepEqual(doc.accounts.find((x) => x.id === LONER)?.entitlements, [
      'gateway-policy',
      'custom-ruleset',
    ]);
    assert.deepEqual(doc.organization_departures, [{ organization_id: ORG, account_id: LONER }]);
    const owner = doc.tokens.find((x) => x.id === hexId(1, 'c'));
    assert.equal(owner?.secret_digest, hashSecret(TOKENS.owner));
    assert.deepEqual(owner?.permissions, ['read', 'edit']);
    assert.deepEqual(doc.tokens.find((x) => x.id === hexId(2, 'c'))?.permissions, ['read']);
    assert.equal(doc.tokens.find((x) => x.id === hexId(8, 'c'))?.expires_on, '2025-01-01T00:00:00Z');
    assert.deepEqual(doc.users[0]?.accounts, [OWNER]);
    const text = JSON.stringify(doc);
    for (const secret of Object.values(TOKENS)) assert.ok(!text.includes(secret));
    // Sorted by primary key.
    for (const key of ['organizations', 'accounts', 'tokens', 'shares', 'recipients', 'resources'] as const) {
      const ids = doc[key].map((x) => x.id);
      assert.deepEqual(ids, [...ids].sort(), key);
    }
  });

  test('when the document is imported back, then a new export is identical', async () => {
    await t.service.importState(clone(doc));
    assert.deepEqual(await t.service.exportState(), doc);
  });

  test('when GET /_rshare/state is PUT back, then the answer and the next GET are the same document, byte for byte', async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    const first = await t.admin.inject({ method: 'GET', url: STATE, headers: auth });
    assert.equal(first.statusCode, 200, first.body);
    const envelope = JSON.parse(first.body) as { success: boolean; errors: unknown[]; result: StateDocument };
    assert.equal(envelope.success, true);
    assert.deepEqual(envelope.errors, []);
    assert.deepEqual(envelope.result, doc);
    const put = await t.admin.inject({ method: 'PUT', url: STATE, headers: auth, payload: envelope.result });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.body, first.body);
    const again = await t.admin.inject({ method: 'GET', url: STATE, headers: auth });
    assert.equal(again.body, first.body);
  });

  test('when the state routes are called without the admin token, then they are refused', async () => {
    const res = await call(t.admin, 'GET', STATE, { token: TOKENS.owner });
    assertError(res, 403, 10000, 'Authentication error');
  });

  test('given a document larger than the API body limit, when it is PUT, then it is accepted', async () => {
    const big = clone(doc);
    const resource = big.resources[0];
    assert.ok(resource);
    resource.meta = { blob: 'x'.repeat(1_500_000) };
    const res = await ok(call(t.admin, 'PUT', STATE, { token: ADMIN, body: big }));
    assert.equal(res.body.result.resources[0].meta.blob.length, 1_500_000);
    await t.service.importState(clone(doc));
  });

  test('given a resource meta as deep as the API takes, when GET /_rshare/state is PUT back, then it is accepted', async () => {
    // 64 levels in a resource create body; the document holds the same meta two levels deeper.
    let deep: unknown = 1;
    for (let i = 0; i < 62; i++) deep = [deep];
    const created = await ok(
      call(t.app, 'POST', `${base()}/${shares.a}/resources`, { body: { ...ruleset(99), meta: { deep } } }),
      201,
    );
    const saved = await t.service.exportState();
    const res = await ok(call(t.admin, 'PUT', STATE, { token: ADMIN, body: saved }));
    assert.deepEqual(
      res.body.result.resources.find((r: { id: string }) => r.id === created.body.result.id)?.meta,
      {
        deep,
      },
    );
    await t.service.importState(clone(doc));
  });

  test('given a document nested deeper than that, when it is PUT, then it is a 400 pointing at the level', async () => {
    const deeper = clone(doc);
    let deep: unknown = 1;
    for (let i = 0; i < 63; i++) deep = [deep];
    (deeper.resources[0] as { meta: unknown }).meta = { deep };
    const res = await call(t.admin, 'PUT', STATE, { token: ADMIN, body: deeper });
    assertError(
      res,
      400,
      1400,
      'The body is nested more than 66 levels deep',
      `/resources/0/meta/deep${'/0'.repeat(62)}`,
    );
    assert.deepEqual(await t.service.exportState(), doc);
  });

  test('given a document larger than the state limit (64 MiB), when it is PUT, then it is a 413 naming that limit', async () => {
    const res = await call(t.admin, 'PUT', STATE, {
      token: ADMIN,
      body: JSON.stringify({ ...doc, pad: 'x'.repeat(64 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    assertError(res, 413, 1413, `Request body is larger than ${64 * 1024 * 1024} bytes`);
    assert.deepEqual(await t.service.exportState(), doc);
  });
});

describe('a snapshot imported into another store', () => {
  let source: StateHarness;
  let target: StateHarness;
  let shares: Shares;
  let doc: StateDocument;
  before(async () => {
    ({ t: source, shares, doc } = await populated());
    target = await open();
    await target.service.importState(clone(doc));
  });
  after(async () => {
    await source.close();
    await target.close();
  });

  test('when the API is asked, then it answers exactly as on the source store', async () => {
    assert.deepEqual(await answers(target, shares), await answers(source, shares));
    assert.deepEqual(await target.service.exportState(), doc);
  });

  test('when the reconciler runs on the imported work, then it finishes it (no lease held)', async () => {
    await settle(target);
    const recipients = await ok(call(target.app, 'GET', `${base()}/${shares.a}/recipients`));
    assert.deepEqual(
      recipients.body.result.map((r: { association_status: string }) => r.association_status),
      ['associated', 'associated'],
    );
    const deleted = await ok(call(target.app, 'GET', `${base()}/${shares.d}`));
    assert.equal(deleted.body.result.status, 'deleted');
  });

  test('when a share is created in the organization, then it is numbered after the imported ones', async () => {
    target.clock.advance(60_000);
    const before = await ok(call(target.app, 'GET', orgList(), { token: TOKENS.org }));
    assert.equal(before.body.result_info.total_count, 3);
    const created = await ok(
      call(target.app, 'POST', base(), {
        body: { name: 'after import', recipients: [{ recipient_account_id: R2 }], resources: [] },
      }),
      201,
    );
    const after = await ok(call(target.app, 'GET', orgList(), { token: TOKENS.org }));
    assert.equal(after.body.result_info.total_count, 4);
    assert.equal(after.body.result.at(-1).id, created.body.result.id);
    const owner = await ok(call(target.app, 'GET', `${base()}?per_page=100`));
    assert.equal(owner.body.result_info.total_count, 4);
  });
});

describe(
  'a snapshot moved between store kinds',
  // The PostgreSQL pass has both kinds at hand (SQLite needs no server); `npm test` runs both passes.
  { skip: STORE_KIND === 'sqlite' ? 'runs in the PostgreSQL pass' : false },
  () => {
    let source: StateHarness;
    let shares: Shares;
    let doc: StateDocument;
    let dir: string;
    let sqlite: SqliteStore;
    let sqliteApp: App;
    let postgres: TestStore;
    before(async () => {
      ({ t: source, shares, doc } = await populated());
      dir = mkdtempSync(join(tmpdir(), 'rshare-state-'));
      sqlite = openSqliteStore(join(dir, 'rshare.db'));
      sqliteApp = await buildApp({ store: sqlite, clock: source.clock });
      postgres = await openTestStore();
    });
    after(async () => {
      await sqliteApp.close();
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
      await postgres.close();
      await source.close();
    });

    test('when a PostgreSQL snapshot is imported into SQLite, then the document and the API answers are the same', async () => {
      const service = new StateService(sqlite.state);
      await service.importState(clone(doc));
      // Equal as values: jsonb may order an object's keys differently from the text SQLite keeps.
      assert.deepEqual(await service.exportState(), doc);
      assert.deepEqual(await answers({ app: sqliteApp }, shares), await answers(source, shares));
    });

    test('when that SQLite snapshot is imported into PostgreSQL again, then the document is the same', async () => {
      const fromSqlite = await new StateService(sqlite.state).exportState();
      const service = new StateService(postgres.store.state);
      await service.importState(clone(fromSqlite));
      assert.deepEqual(await service.exportState(), doc);
    });
  },
);

describe('clear', () => {
  let t: StateHarness;
  let doc: StateDocument;
  before(async () => {
    ({ t, doc } = await populated());
    await t.service.clear();
  });
  after(() => t.close());

  test('when the store is cleared, then every table is empty and the migrations are kept', async () => {
    const all = await counts(t);
    assert.deepEqual(
      Object.entries(all).filter(([, n]) => n !== 0),
      [],
    );
    const [migrations] = await t.sql('SELECT COUNT(*) AS n FROM schema_migrations');
    assert.ok(Number(migrations?.n) >= 4);
  });

  test('when the API is called with a former token, then the token no longer exists', async () => {
    assertError(await call(t.app, 'GET', base()), 400, 1000, 'Invalid API Token');
  });

  test('given the tenancy restored, when a share is created, then it is the organization’s first', async () => {
    await t.service.importState(tenancyOnly(doc));
    const empty = await ok(call(t.app, 'GET', base()));
    assert.equal(empty.body.result_info.total_count, 0);
    await ok(call(t.app, 'POST', base(), { body: { name: 'first', recipients: [], resources: [] } }), 201);
    const org = await ok(call(t.app, 'GET', orgList(), { token: TOKENS.org }));
    assert.equal(org.body.result_info.total_count, 1);
    const [row] = await t.sql('SELECT share_count AS n FROM organizations WHERE id = ?', ORG);
    assert.equal(Number(row?.n), 1);
  });
});

describe('clear one organization', () => {
  let t: StateHarness;
  let shares: Shares;
  let before_: StateDocument;
  let removed: { shares: number };
  before(async () => {
    ({ t, shares, doc: before_ } = await populated());
    removed = await t.service.clearOrganization(ORG);
  });
  after(() => t.close());

  test('when an organization is cleared, then exactly its shares and what hangs off them are gone', async () => {
    assert.deepEqual(removed, { shares: 3 });
    assert.deepEqual(await t.service.exportState(), withoutOrganization(before_, ORG));
    const gone = [shares.a, shares.b, shares.d];
    const marks = gone.map(() => '?').join(', ');
    const [visible] = await t.sql(
      `SELECT COUNT(*) AS n FROM share_visibility WHERE share_id IN (${marks})`,
      ...gone,
    );
    assert.equal(Number(visible?.n), 0);
    const [others] = await t.sql(
      'SELECT COUNT(*) AS n FROM share_visibility WHERE share_id IN (?, ?)',
      shares.c,
      shares.e,
    );
    assert.equal(Number(others?.n), 2);
    const rows = await t.sql('SELECT id, share_count AS n FROM organizations ORDER BY id');
    assert.deepEqual(
      rows.map((r) => [r.id, Number(r.n)]),
      [
        [ORG, 0],
        [OTHER_ORG, 2],
      ],
    );
  });

  test('when the API is asked, then the organization and its recipients see nothing and the other organization is intact', async () => {
    const org = await ok(call(t.app, 'GET', orgList(), { token: TOKENS.org }));
    assert.deepEqual(org.body.result, []);
    assert.equal(org.body.result_info.total_count, 0);
    const received = await ok(call(t.app, 'GET', base(R1), { token: TOKENS.r1 }));
    assert.equal(received.body.result_info.total_count, 0);
    const inventory = await ok(
      call(t.app, 'GET', `/client/v4/accounts/${R1}/shared-resources`, { token: TOKENS.r1 }),
    );
    assert.deepEqual(inventory.body.result, []);
    assertError(await call(t.app, 'GET', `${base()}/${shares.a}`), 404, 1404, 'Share not found');
    const other = await ok(call(t.app, 'GET', `${base(STRANGER)}?per_page=100`, { token: TOKENS.stranger }));
    assert.deepEqual(other.body.result.map((s: { id: string }) => s.id).sort(), [shares.c, shares.e].sort());
    assert.equal(other.body.result_info.total_count, 2);
  });

  test('when new shares are created in the cleared organization, then they are listed and counted from one', async () => {
    t.clock.advance(1);
    const first = await ok(
      call(t.app, 'POST', base(), {
        body: { name: 'again', recipients: [{ recipient_account_id: R1 }], resources: [ruleset(9)] },
      }),
      201,
    );
    t.clock.advance(1);
    const second = await ok(
      call(t.app, 'POST', base(), { body: { name: 'and again', recipients: [], resources: [] } }),
      201,
    );
    await settle(t);
    const org = await ok(call(t.app, 'GET', orgList(), { token: TOKENS.org }));
    assert.deepEqual(
      org.body.result.map((s: { id: string }) => s.id),
      [first.body.result.id, second.body.result.id],
    );
    assert.equal(org.body.result_info.total_count, 2);
    const owner = await ok(call(t.app, 'GET', base()));
    assert.equal(owner.body.result_info.total_count, 2);
    const received = await ok(call(t.app, 'GET', base(R1), { token: TOKENS.r1 }));
    assert.deepEqual(
      received.body.result.map((s: { id: string }) => s.id),
      [first.body.result.id],
    );
  });

  test('when the organization id is malformed or unknown, then it is refused', async () => {
    await assert.rejects(t.service.clearOrganization('not-an-id'), (err: ApiError) => {
      assert.deepEqual(
        [err.status, err.code, err.message, err.source],
        [400, 1400, 'organization_id must be 32 lowercase hex characters', { pointer: '/organization_id' }],
      );
      return true;
    });
    await assert.rejects(t.service.clearOrganization(hexId(99, 'a')), (err: ApiError) => {
      assert.deepEqual(
        [err.status, err.code, err.message, err.source],
        [404, 1404, 'Organization not found', undefined],
      );
      return true;
    });
  });
});

describe('a format 1 document', () => {
  let t: StateHarness;
  const fixture = JSON.parse(
    readFileSync(new URL('./fixtures/state-v1.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown> & { tokens: { can_edit: boolean }[] };
  before(async () => {
    t = await open();
  });
  after(() => t.close());

  test('when it is PUT, then it is stored and read back as format 2', async () => {
    const res = await ok(call(t.admin, 'PUT', STATE, { token: ADMIN, body: fixture }));
    const doc = res.body.result as StateDocument;
    // Format 2 is format 1 with permissions for can_edit and (no) departures.
    const { tokens, ...rest } = fixture;
    const expected = {
      ...rest,
      format_version: 2,
      tokens: tokens.map(({ can_edit, ...token }) => ({
        ...token,
        permissions: can_edit ? ['read', 'edit'] : ['read'],
      })),
      organization_departures: [],
    };
    assert.deepEqual(doc, expected);
    assert.deepEqual(await t.service.exportState(), expected);
  });

  test('when its principals call the API, then their shares and permissions are as the fixture says', async () => {
    const list = await ok(call(t.app, 'GET', `${base()}?include_recipient_counts=true`));
    assert.equal(list.body.result_info.total_count, 1);
    assert.equal(list.body.result[0].name, 'fixture share');
    assert.deepEqual(list.body.result[0].tags, { env: 'prod' });
    assert.equal(list.body.result[0].associated_recipient_count, 1);
    const inventory = await ok(
      call(t.app, 'GET', `/client/v4/accounts/${R1}/shared-resources`, { token: TOKENS.r1 }),
    );
    assert.equal(inventory.body.result.length, 1);
    const refused = await call(t.app, 'POST', base(), {
      token: TOKENS.ownerRead,
      body: { name: 'read only', recipients: [], resources: [] },
    });
    assert.equal(refused.status, 403);
    const org = await ok(call(t.app, 'GET', orgList(), { token: TOKENS.org }));
    assert.equal(org.body.result_info.total_count, 1);
    await settle(t);
  });
});

describe('invalid documents', () => {
  let t: StateHarness;
  let doc: StateDocument;
  before(async () => {
    ({ t, doc } = await populated());
  });
  after(() => t.close());

  const last = <T>(list: T[]): T => {
    const item = list.at(-1);
    assert.ok(item);
    return item;
  };
  const first = <T>(list: T[]): T => {
    const item = list[0];
    assert.ok(item);
    return item;
  };

  /** What to break, and the pointer and message (from the valid document) of the error it gives. */
  type Case = [
    string,
    (d: StateDocument) => unknown,
    string | ((d: StateDocument) => string),
    string | RegExp | ((d: StateDocument) => string),
  ];
  const cases: Case[] = [
    [
      'a wrong type deep in',
      (d) => Object.assign(last(d.shares), { account_id: 7 }),
      `/shares/4/account_id`,
      'account_id must be a string',
    ],
    [
      'a boolean that is not',
      (d) => Object.assign(first(d.deliveries), { terminal: 'yes' }),
      '/deliveries/0/terminal',
      'terminal must be a boolean',
    ],
    [
      'a negative due time',
      (d) => Object.assign(first(d.work), { due_at: -1 }),
      '/work/0/due_at',
      'due_at must be at least 0',
    ],
    [
      'a timestamp without microseconds',
      (d) => Object.assign(first(d.recipients), { created: '2026-01-01T00:00:00Z' }),
      '/recipients/0/created',
      'created must be a UTC timestamp with microseconds, like 2023-09-21T18:56:32.624632Z',
    ],
    [
      'a malformed id in a scope',
      (d) => first(d.users).accounts.push('NOT-AN-ID'),
      '/users/0/accounts/1',
      'accounts[1] must be 32 lowercase hex characters',
    ],
    [
      'an unknown field',
      (d) => Object.assign(first(d.tokens), { can_edit: true }),
      '/tokens/0/can_edit',
      'Unknown field can_edit',
    ],
    [
      'a missing field',
      (d) => delete (first(d.shares) as Partial<StateDocument['shares'][number]>).tags,
      '/shares/0/tags',
      'tags is required',
    ],
    [
      'a dangling account',
      (d) => Object.assign(first(d.recipients), { account_id: hexId(99, 'b') }),
      '/recipients/0/account_id',
      `Unknown account ${hexId(99, 'b')}`,
    ],
    [
      'a dangling share in the inventory',
      (d) => Object.assign(first(d.inventory), { share_id: hexId(99, 'f') }),
      '/inventory/0/share_id',
      `Unknown share ${hexId(99, 'f')}`,
    ],
    [
      'a dangling organization in a token scope',
      (d) => first(d.tokens).organizations.push(hexId(99, 'a')),
      '/tokens/0/organizations/0',
      `Unknown organization ${hexId(99, 'a')}`,
    ],
    [
      'a duplicate id',
      (d) => Object.assign(d.shares[1] ?? {}, { id: first(d.shares).id }),
      '/shares/1/id',
      (d) => `Duplicate share id ${first(d.shares).id}`,
    ],
    [
      'a duplicate email',
      (d) => d.users.push({ ...first(d.users), id: hexId(2, 'd'), accounts: [], organizations: [] }),
      '/users/1/email',
      'Duplicate user email owner@acme.test',
    ],
    [
      'a recipient twice',
      (d) => d.recipients.push({ ...first(d.recipients), id: hexId(99, 'f') }),
      (d) => `/recipients/${d.recipients.length}/account_id`,
      (d) =>
        `Account ${first(d.recipients).account_id} is already a recipient of share ${first(d.recipients).share_id}`,
    ],
    [
      'a resource shared twice while live',
      (d) => d.resources.push({ ...first(d.resources), id: hexId(99, 'f'), status: 'active' }),
      (d) => `/resources/${d.resources.length}/resource_id`,
      (d) =>
        `Resource custom-ruleset ${first(d.resources).resource_id} is already shared by share ${first(d.resources).share_id}`,
    ],
    [
      'a delivery of another share’s resource',
      (d) => {
        const delivery = first(d.deliveries);
        const recipient = d.recipients.find((r) => r.id === delivery.recipient_id);
        const other = d.resources.find((r) => r.share_id !== recipient?.share_id);
        delivery.share_resource_id = other?.id ?? '';
      },
      '/deliveries/0/share_resource_id',
      /^Resource [0-9a-f]{32} is not of share [0-9a-f]{32}$/,
    ],
    [
      'a tag key with "="',
      (d) => Object.assign(first(d.shares), { tags: { 'a=b': 'c' } }),
      '/shares/0/tags/a=b',
      'Tag key "a=b" must not contain "="',
    ],
    [
      'edit without read',
      (d) => Object.assign(first(d.tokens), { permissions: ['edit'] }),
      '/tokens/0/permissions',
      "permissions 'edit' requires 'read'",
    ],
    [
      'a NUL character',
      (d) => Object.assign(first(d.shares), { name: 'a\u0000b' }),
      '/shares/0/name',
      'Text must not contain the NUL character (\\u0000)',
    ],
    [
      'a lone surrogate',
      (d) => Object.assign(first(d.shares), { name: 'a\udfffb' }),
      '/shares/0/name',
      'Text is not valid Unicode (lone surrogate)',
    ],
    [
      'an unknown format version',
      (d) => Object.assign(d, { format_version: 3 }),
      '/format_version',
      'format_version must be one of: 1, 2',
    ],
    [
      'no format version',
      (d) => delete (d as Partial<StateDocument>).format_version,
      '/format_version',
      'format_version is required',
    ],
  ];

  for (const [what, mutate, pointer, message] of cases) {
    test(`given ${what}, when the document is PUT, then it is a 400 naming the field and the store is unchanged`, async () => {
      const bad = clone(doc);
      mutate(bad);
      const res = await call(t.admin, 'PUT', STATE, { token: ADMIN, body: bad });
      assertError(
        res,
        400,
        1400,
        typeof message === 'function' ? message(doc) : message,
        typeof pointer === 'function' ? pointer(doc) : pointer,
      );
      assert.deepEqual(await t.service.exportState(), doc);
    });
  }

  test('given something that is not an object, when it is PUT, then it is a 400 for the whole body', async () => {
    for (const body of [[], 'state', 42]) {
      const res = await call(t.admin, 'PUT', STATE, {
        token: ADMIN,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 400, 1400, 'The state document must be a JSON object', '');
    }
    assert.deepEqual(await t.service.exportState(), doc);
  });

  test('given rows the store itself refuses, when they are imported, then nothing changes (one transaction)', async () => {
    const rows = (await t.store.state.exportRows()) as StateRows;
    const recipient = rows.share_recipients[0];
    assert.ok(recipient);
    rows.share_recipients.push({ ...recipient, id: hexId(98, 'f'), share_id: hexId(98, 'f') });
    await assert.rejects(t.store.state.importRows(rows));
    assert.deepEqual(await t.service.exportState(), doc);
  });
});

describe('state tables', () => {
  let t: StateHarness;
  before(async () => {
    t = await open();
  });
  after(() => t.close());

  test('given the migrated schema, then the one table list declares exactly its tables and the columns of every table it moves', async () => {
    const rows =
      STORE_KIND === 'sqlite'
        ? await t.sql(
            `SELECT m.name AS table_name, c.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`,
          )
        : await t.sql(
            `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`,
          );
    const migrated = rows
      .map((r) => ({ table: String(r.table_name), column: String(r.column_name) }))
      .filter((r) => r.table !== 'schema_migrations');
    assert.ok(migrated.length > 0);
    // Derived and transient tables are never moved: declared by name only.
    const moved = TABLES.filter((x) => x.columns.length > 0);
    assert.deepEqual([...new Set(migrated.map((r) => r.table))].sort(), TABLES.map((x) => x.name).sort());
    assert.deepEqual(
      migrated
        .filter((r) => moved.some((x) => x.name === r.table))
        .map((r) => `${r.table}.${r.column}`)
        .sort(),
      moved.flatMap((x) => x.columns.map((c) => `${x.name}.${c.name}`)).sort(),
    );
  });
});
