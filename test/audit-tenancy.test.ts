import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../src/app.js';
import type { AuditLogV1, AuditLogV2 } from '../src/cloudflare/audit/schemas.js';
import { AuditService } from '../src/cloudflare/audit/service.js';
import type { ManualClock } from '../src/lib/clock.js';
import { hashSecret } from '../src/lib/secrets.js';
import { applyBootstrap } from '../src/platform/tenancy/bootstrap.js';
import { seedDemo } from '../src/platform/tenancy/demo.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { call, hexId } from './helpers.js';
import { openTestStore, type TestStore } from './support/store.js';
import { openTenancy } from './support/tenancy.js';

const ORG = hexId(1, 'a');
const ORG2 = hexId(2, 'a');
const A1 = hexId(1, 'b');
const A2 = hexId(2, 'b');
const A3 = hexId(3, 'b');
const LONER = hexId(4, 'b');
const KEY = 'ops-global-key-audit-000001';
const KEY2 = 'ops-global-key-audit-000002';
const VALUE = 'ci-token-value-audit-000001';
const SECRETS = [KEY, KEY2, VALUE, 'bootstrap-key-audit-00001', 'bootstrap-token-audit-0001'];

// Every assert.ok has a message: without one, Node rebuilds it from the (tsx-compiled) source, which can
// take minutes.
const SINCE = '2000-01-01';
const BEFORE = '2100-01-01';

let db: TestStore;
let clock: ManualClock;
let service: TenancyService;
let audit: AuditService;

beforeEach(async () => {
  ({ db, clock, service } = await openTenancy());
  audit = new AuditService(db.store.audit);
  await service.createOrganization({ id: ORG, name: 'Acme' });
  await service.createOrganization({ id: ORG2, name: 'Other' });
});

afterEach(() => db.close());

/** The account's log in version 2's shape, oldest first, as JSON carries it (no undefined fields). */
async function log(account: string): Promise<AuditLogV2[]> {
  const { items } = await audit.listV2(account, {
    since: SINCE,
    before: BEFORE,
    direction: 'asc',
    limit: 1000,
  });
  return JSON.parse(JSON.stringify(items)) as AuditLogV2[];
}

/** Version 1 carries the old values (version 2 has no place for them): oldest first, parsed. */
async function oldValues(account: string): Promise<unknown[]> {
  const { items } = await audit.listV1(account, { direction: 'asc', per_page: 1000 });
  return items.map((e: AuditLogV1) =>
    e.oldValue === undefined ? null : (JSON.parse(e.oldValue) as unknown),
  );
}

async function count(): Promise<number> {
  const [row] = await db.sql('SELECT count(*) AS n FROM audit_logs');
  return Number(row?.n);
}

/** What every tenancy entry shares: the operator through the CLI, no request. */
function assertOperator(e: AuditLogV2, account: string): void {
  assert.deepEqual(e.actor, { type: 'cloudflare_admin' });
  assert.equal(e.account.id, account);
  assert.deepEqual(e.resource.scope, { type: 'accounts', id: account });
  assert.equal(e.resource.product, 'resource_sharing');
  assert.equal(e.action.result, 'success');
  assert.deepEqual(e.raw, {});
}

/** Every place an entry could hold a value, in both versions and as stored. */
async function everything(): Promise<string> {
  const rows = await db.sql('SELECT * FROM audit_logs');
  const logs = [];
  for (const a of [A1, A2, A3, LONER]) {
    logs.push(await log(a), (await audit.listV1(a, { per_page: 1000 })).items);
  }
  return JSON.stringify([rows, logs]);
}

async function assertNoSecrets(): Promise<void> {
  const text = await everything();
  for (const secret of SECRETS) {
    assert.ok(!text.includes(secret), `secret ${secret} in the audit log`);
    assert.ok(!text.includes(hashSecret(secret)), `digest of ${secret} in the audit log`);
  }
}

const accountValue = (name: string, organization_id: string | null, entitlements: string[] | null) => ({
  name,
  organization_id,
  entitlements,
});

describe('audit entries of account changes', () => {
  test('createAccount: given a new account, when created, then its log holds one create entry by cloudflare_admin', async () => {
    await service.createAccount({ id: A1, name: 'Prod', organization_id: ORG });
    const [e, ...rest] = await log(A1);
    assert.equal(rest.length, 0);
    assert.ok(e, 'no entry');
    assertOperator(e, A1);
    assert.equal(e.account.name, 'Prod');
    assert.deepEqual(e.action.type, 'create');
    assert.equal(e.action.description, 'Create account');
    assert.equal(e.action.time, (await db.store.tenancy.getAccount(A1))?.created);
    assert.equal(e.resource.type, 'account');
    assert.equal(e.resource.id, A1);
    assert.deepEqual(e.resource.response, accountValue('Prod', ORG, null));
    assert.deepEqual(await oldValues(A1), [null]);
  });

  test('moveAccount: given an account in one organization, when moved, moved again and moved to where it is, then each move is one entry with the old and new organization', async () => {
    await service.createAccount({ id: A1, name: 'Prod', organization_id: ORG });
    clock.advance(1000);
    await service.moveAccount(A1, ORG2);
    clock.advance(1000);
    await service.moveAccount(A1, null);
    await service.moveAccount(A1, null);
    const entries = await log(A1);
    assert.deepEqual(
      entries.map((e) => [e.action.type, e.action.description, e.resource.response]),
      [
        ['create', 'Create account', accountValue('Prod', ORG, null)],
        ['update', 'Move account', accountValue('Prod', ORG2, null)],
        ['update', 'Move account', accountValue('Prod', null, null)],
      ],
    );
    for (const e of entries) assertOperator(e, A1);
    assert.deepEqual(await oldValues(A1), [
      null,
      accountValue('Prod', ORG, null),
      accountValue('Prod', ORG2, null),
    ]);
    // The entry belongs to the organization the account moved into.
    const rows = await db.sql('SELECT organization_id FROM audit_logs ORDER BY seq');
    assert.deepEqual(
      rows.map((r) => r.organization_id),
      [ORG, ORG2, null],
    );
  });

  test('setEntitlements and putAccount: given changed entitlements and name, when set, then each change is an update entry and an unchanged put writes none', async () => {
    await service.createAccount({ id: A1, name: 'Prod', organization_id: ORG });
    await service.setEntitlements(A1, ['custom-ruleset']);
    await service.setEntitlements(A1, ['custom-ruleset']);
    await service.putAccount({
      id: A1,
      name: 'Production',
      organization_id: ORG,
      entitlements: ['custom-ruleset'],
    });
    await service.putAccount({
      id: A1,
      name: 'Production',
      organization_id: ORG,
      entitlements: ['custom-ruleset'],
    });
    const entries = await log(A1);
    assert.deepEqual(
      entries.map((e) => [e.action.type, e.action.description, e.resource.response]),
      [
        ['create', 'Create account', accountValue('Prod', ORG, null)],
        ['update', 'Update account', accountValue('Prod', ORG, ['custom-ruleset'])],
        ['update', 'Update account', accountValue('Production', ORG, ['custom-ruleset'])],
      ],
    );
    assert.deepEqual((await oldValues(A1)).slice(1), [
      accountValue('Prod', ORG, null),
      accountValue('Prod', ORG, ['custom-ruleset']),
    ]);
  });

  test('createOrganization: given a new organization, when created, then no entry is written (no account log holds it)', async () => {
    await service.putOrganization({ id: ORG, name: 'Acme renamed' });
    assert.equal(await count(), 0);
  });
});

describe('audit entries of user and token changes', () => {
  beforeEach(async () => {
    await service.createAccount({ id: A1, name: 'Prod', organization_id: ORG });
    await service.createAccount({ id: A2, name: 'Staging', organization_id: ORG });
    await service.createAccount({ id: LONER, name: 'Loner' });
    clock.advance(1000);
  });

  const userValue = (accounts: string[], organizations: string[]) => ({
    email: 'ops@acme.test',
    accounts,
    organizations,
  });

  test('putUser: given a user created, re-scoped and given a new key, when each is written, then each account its scope names sees its own part of the change', async () => {
    const user = { email: 'ops@acme.test', api_key: KEY, accounts: [A1, LONER], organizations: [ORG] };
    const created = await service.putUser(user);
    const userId = created.row.id;
    clock.advance(1000);
    await service.putUser(user);
    await service.putUser({ ...user, accounts: [A2, LONER] });
    clock.advance(1000);
    await service.putUser({ ...user, accounts: [A2, LONER], api_key: KEY2 });

    const summary = async (account: string) =>
      (await log(account))
        .filter((e) => e.resource.type === 'user')
        .map((e) => {
          assertOperator(e, account);
          assert.equal(e.resource.id, userId);
          return [e.action.type, e.action.description, e.resource.response];
        });
    // A1 joined the scope, then left it; the scope's organization shows only to accounts inside it.
    assert.deepEqual(await summary(A1), [
      ['create', 'Create user', userValue([A1], [ORG])],
      ['update', 'Update user', userValue([], [ORG])],
    ]);
    assert.deepEqual(await summary(A2), [
      ['update', 'Update user', userValue([A2], [ORG])],
      ['update', 'Update user', userValue([A2], [ORG])],
    ]);
    // LONER's view changed only with the new key.
    assert.deepEqual(await summary(LONER), [
      ['create', 'Create user', userValue([LONER], [])],
      ['update', 'Update user', userValue([LONER], [])],
    ]);
    const { items } = await audit.listV1(LONER, { direction: 'asc' });
    assert.deepEqual(
      items.filter((e) => e.resource.type === 'user').map((e) => e.metadata),
      [{}, { api_key_changed: true }],
    );
    assert.deepEqual((await oldValues(A1)).slice(-2), [null, userValue([A1], [ORG])]);
    await assertNoSecrets();
  });

  test('createUser: given a user scoped to an organization only, when created, then no entry is written', async () => {
    const before = await count();
    await service.createUser({ email: 'org@acme.test', api_key: KEY, accounts: [], organizations: [ORG] });
    assert.equal(await count(), before);
  });

  test('putToken: given a token created and then disabled, given edit and an expiry, when written, then its account logs hold a create and an update with old and new values', async () => {
    const token = {
      value: VALUE,
      name: 'ci',
      accounts: [A1],
      organizations: [ORG, ORG2],
      permissions: ['read'],
    };
    const { id } = (await service.putToken(token)).row;
    clock.advance(1000);
    await service.putToken(token);
    await service.putToken({
      ...token,
      status: 'disabled',
      permissions: ['read', 'edit'],
      expires_on: '2030-01-01T00:00:00Z',
    });
    const created = {
      name: 'ci',
      status: 'active',
      permissions: ['read'],
      expires_on: null,
      accounts: [A1],
      organizations: [ORG],
    };
    const updated = {
      ...created,
      status: 'disabled',
      permissions: ['read', 'edit'],
      expires_on: '2030-01-01T00:00:00Z',
    };
    const entries = (await log(A1)).filter((e) => e.resource.type === 'api_token');
    assert.deepEqual(
      entries.map((e) => [e.action.type, e.action.description, e.resource.id, e.resource.response]),
      [
        ['create', 'Create API token', id, created],
        ['update', 'Update API token', id, updated],
      ],
    );
    for (const e of entries) assertOperator(e, A1);
    assert.deepEqual((await oldValues(A1)).slice(-2), [null, created]);
    assert.ok(
      (await log(A2)).every((e) => e.resource.type === 'account'),
      'token entry in A2, outside its scope',
    );
    await assertNoSecrets();
  });

  test('createToken: given a token over two accounts, when created, then each account log holds one entry and the token authenticates on the API to read it', async () => {
    const { token } = await service.createToken({
      name: 'reader',
      value: VALUE,
      accounts: [A1, A2],
      organizations: [],
      permissions: ['read'],
    });
    const app = await buildApp({ store: db.store, clock });
    try {
      const res = await call(
        app,
        'GET',
        `/client/v4/accounts/${A1}/logs/audit?since=${SINCE}&before=${BEFORE}`,
        {
          token: VALUE,
        },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [newest] = res.body.result as AuditLogV2[];
      assert.ok(newest, 'no entry');
      assertOperator(newest, A1);
      assert.equal(newest.resource.type, 'api_token');
      assert.equal(newest.resource.id, token.id);
      assert.deepEqual(
        res.body.result,
        JSON.parse(JSON.stringify((await audit.listV2(A1, { since: SINCE, before: BEFORE })).items)),
      );
    } finally {
      await app.close();
    }
    assert.equal((await log(A2)).filter((e) => e.resource.id === token.id).length, 1);
    await assertNoSecrets();
  });
});

describe('audit entries of bootstrap files and the demo seed', () => {
  const file = (status: 'active' | 'disabled' = 'active') => ({
    organizations: [{ id: ORG, name: 'Acme' }],
    accounts: [
      { id: A1, name: 'Prod', organization_id: ORG },
      { id: A2, name: 'Staging', organization_id: ORG, entitlements: ['custom-ruleset'] },
    ],
    users: [{ email: 'boot@acme.test', api_key: 'bootstrap-key-audit-00001', accounts: [A1] }],
    tokens: [
      {
        value: 'bootstrap-token-audit-0001',
        name: 'deploy',
        accounts: [A1, A2],
        organizations: [ORG],
        permissions: ['read', 'edit'],
        status,
      },
    ],
  });

  test('applyBootstrap: given a file applied twice and then edited, when applied, then the first run writes one entry per changed row and account, the second none, the edit only its change', async () => {
    await applyBootstrap(service, file(), 'test');
    const summary = async (account: string) =>
      (await log(account)).map((e) => {
        assertOperator(e, account);
        return `${e.action.type} ${e.resource.type} ${e.action.description}`;
      });
    assert.deepEqual(await summary(A1), [
      'create account Create account',
      'create user Create user',
      'create api_token Create API token',
    ]);
    assert.deepEqual(await summary(A2), [
      'create account Create account',
      'create api_token Create API token',
    ]);
    const first = await count();
    assert.equal(first, 5);

    clock.advance(1000);
    await applyBootstrap(service, file(), 'test');
    assert.equal(await count(), first);

    clock.advance(1000);
    await applyBootstrap(service, file('disabled'), 'test');
    for (const account of [A1, A2]) {
      const last = (await log(account)).at(-1);
      assert.ok(last, `no entry in ${account}`);
      assert.equal(last.action.type, 'update');
      const token = await db.store.tenancy.findTokenByHash(hashSecret('bootstrap-token-audit-0001'));
      assert.equal(last.resource.id, token?.id);
      assert.deepEqual(last.resource.response, {
        name: 'deploy',
        status: 'disabled',
        permissions: ['read', 'edit'],
        expires_on: null,
        accounts: [account],
        organizations: [ORG],
      });
      // The third run's time, two clock steps after the first.
      assert.match(last.action.time, /^2026-01-01T00:00:02\./);
    }
    assert.equal(await count(), first + 2);
    await assertNoSecrets();
  });

  test('applyBootstrap: given a file that fails validation, when applied, then it writes no entry', async () => {
    const bad = { ...file(), tokens: file().tokens.map((t) => ({ ...t, permissions: ['edit'] })) };
    await assert.rejects(applyBootstrap(service, bad, 'test'), /tokens\[0\]\.permissions/);
    assert.equal(await count(), 0);
  });

  test('putBatch: given a batch whose user names an unknown account, when the transaction fails, then the accounts it created roll back with their entries', async () => {
    await assert.rejects(
      service.putBatch({
        organizations: [],
        accounts: [{ id: A3, name: 'New', organization_id: ORG }],
        users: [{ email: 'x@acme.test', api_key: KEY, accounts: [A3, hexId(9, 'b')], organizations: [] }],
        tokens: [],
      }),
    );
    assert.equal(await db.store.tenancy.getAccount(A3), undefined);
    assert.equal(await count(), 0);
  });

  test('seedDemo: given an empty store, when seeded, then the owner account log holds its creation, the demo user and the demo token', async () => {
    const empty = await openTestStore();
    try {
      const demoService = new TenancyService(empty.store.tenancy, clock);
      const seed = await seedDemo(demoService, empty.store.tenancy);
      assert.ok(seed, 'not seeded');
      const { items } = await new AuditService(empty.store.audit).listV2(seed.ownerAccountId, {
        since: SINCE,
        before: BEFORE,
        direction: 'asc',
      });
      assert.deepEqual(
        items.map((e) => [e.actor.type, e.action.type, e.resource.type]),
        [
          ['cloudflare_admin', 'create', 'account'],
          ['cloudflare_admin', 'create', 'user'],
          ['cloudflare_admin', 'create', 'api_token'],
        ],
      );
      const text = JSON.stringify(items);
      for (const secret of [seed.apiKey, seed.token]) {
        assert.ok(!text.includes(secret), 'a demo secret in the audit log');
        assert.ok(!text.includes(hashSecret(secret)), 'the digest of a demo secret in the audit log');
      }
    } finally {
      await empty.close();
    }
  });
});
