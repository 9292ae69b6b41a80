import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { TenancyStore } from '../src/platform/tenancy/store.js';
import { openStore } from '../src/adapters/open.js';
import { PG_POOLER, type TestStore } from './support/store.js';
import { openTenancy } from './support/tenancy.js';
import { hexId as id } from './helpers.js';
import { hashSecret } from '../src/lib/secrets.js';
import { formatDemoBanner, seedDemo } from '../src/platform/tenancy/demo.js';
import type { TenancyService } from '../src/platform/tenancy/service.js';
import type { TokenRow, UserRow } from '../src/platform/tenancy/store.js';

const ORG = id(1, 'a');
const ORG2 = id(2, 'a');
const A1 = id(1, 'b');
const A2 = id(2, 'b');
const A3 = id(3, 'b');
const T0 = '2026-01-01T00:00:00.000000Z';
const T1 = '2026-01-02T00:00:00.000000Z';

let db: TestStore;
let store: TenancyStore;
let service: TenancyService;

beforeEach(async () => {
  ({ db, service } = await openTenancy());
  store = db.store.tenancy;
});

afterEach(() => db.close());

async function seedAccounts(): Promise<void> {
  await store.upsertOrganization({ id: ORG, name: 'Acme', created: T0, modified: T0 });
  await store.upsertOrganization({ id: ORG2, name: 'Other', created: T0, modified: T0 });
  for (const [accountId, org] of [
    [A1, ORG],
    [A2, ORG],
    [A3, ORG2],
  ] as const) {
    await store.upsertAccount({
      id: accountId,
      name: `Account ${accountId.slice(-1)}`,
      organization_id: org,
      entitlements: null,
      created: T0,
      modified: T0,
    });
  }
}

function user(overrides: Partial<UserRow> = {}): UserRow {
  return {
    id: id(1, 'c'),
    email: 'ops@acme.test',
    api_key_hash: hashSecret('key-1'),
    accounts: [A1],
    organizations: [ORG],
    created: T0,
    ...overrides,
  };
}

function token(overrides: Partial<TokenRow> = {}): TokenRow {
  return {
    id: id(1, 'd'),
    name: 'ci',
    secret_hash: hashSecret('token-1'),
    can_edit: true,
    status: 'active',
    expires_on: null,
    accounts: [A2, A1],
    organizations: [ORG],
    created: T0,
    ...overrides,
  };
}

describe('SqliteTenancyStore', () => {
  test('upsertOrganization: given an existing organization, when upserted with a new name, then the name changes and created is kept', async () => {
    await store.upsertOrganization({ id: ORG, name: 'Acme', created: T0, modified: T0 });
    await store.upsertOrganization({ id: ORG, name: 'Acme Corp', created: T1, modified: T1 });
    assert.deepEqual(await store.getOrganization(ORG), {
      id: ORG,
      name: 'Acme Corp',
      created: T0,
      modified: T1,
    });
    assert.equal((await store.listOrganizations()).length, 1);
    assert.equal(await store.getOrganization(ORG2), undefined);
  });

  test('upsertAccount: given entitlements null or a list, when read back, then they round-trip as null or an array', async () => {
    await seedAccounts();
    await store.upsertAccount({
      id: A2,
      name: 'Limited',
      organization_id: ORG,
      entitlements: ['custom-ruleset', 'gateway-policy'],
      created: T1,
      modified: T1,
    });
    assert.equal((await store.getAccount(A1))?.entitlements, null);
    const limited = await store.getAccount(A2);
    assert.deepEqual(limited?.entitlements, ['custom-ruleset', 'gateway-policy']);
    assert.equal(limited?.created, T0);
    assert.equal(limited?.name, 'Limited');
    assert.equal(await store.getAccount(id(9, 'b')), undefined);
  });

  test('listAccounts: given accounts in two organizations, when filtered by one, then only its accounts are listed', async () => {
    await seedAccounts();
    assert.deepEqual(
      (await store.listAccounts(ORG)).map((a) => a.id),
      [A1, A2],
    );
    assert.equal((await store.listAccounts()).length, 3);
    assert.deepEqual(
      (await store.listAccounts(ORG2)).map((a) => a.id),
      [A3],
    );
    assert.deepEqual(await store.listAccounts(id(9, 'a')), []);
  });

  test('upsertUser: given a user, when upserted with a new scope, then the scope is replaced', async () => {
    await seedAccounts();
    await store.upsertUser(user());
    assert.deepEqual(await store.findUserByEmail('ops@acme.test'), user());
    await store.upsertUser(
      user({ accounts: [A3, A2], organizations: [ORG2], api_key_hash: hashSecret('key-2') }),
    );
    const updated = await store.findUserByEmail('ops@acme.test');
    assert.deepEqual(updated?.accounts, [A3, A2]);
    assert.deepEqual(updated?.organizations, [ORG2]);
    assert.equal(updated?.api_key_hash, hashSecret('key-2'));
    assert.equal(await store.findUserByEmail('nobody@acme.test'), undefined);
  });

  test('upsertUser: given an existing email, when upserted under another id, then the stored id and created time are kept', async () => {
    await seedAccounts();
    await store.upsertUser(user());
    await store.upsertUser(user({ id: id(2, 'c'), created: T1, accounts: [A2] }));
    const users = await store.listUsers();
    assert.equal(users.length, 1);
    assert.equal(users[0]?.id, id(1, 'c'));
    assert.equal(users[0]?.created, T0);
    assert.deepEqual(users[0]?.accounts, [A2]);
  });

  test('upsertUser: given an unknown account in the scope, when upserted, then it fails and nothing is written', async () => {
    await seedAccounts();
    await assert.rejects(store.upsertUser(user({ accounts: [A1, id(9, 'b')] })), /foreign key/i);
    assert.deepEqual(await store.listUsers(), []);
  });

  test('upsertToken: given a token, when read by id, hash and list, then can_edit is a boolean and the scope keeps its order', async () => {
    await seedAccounts();
    await store.upsertToken(token());
    await store.upsertToken(token({ id: id(2, 'd'), secret_hash: hashSecret('token-2'), can_edit: false }));
    assert.deepEqual(await store.getToken(id(1, 'd')), token());
    assert.deepEqual(await store.findTokenByHash(hashSecret('token-2')), {
      ...token({ id: id(2, 'd'), secret_hash: hashSecret('token-2'), can_edit: false }),
    });
    const listed = await store.listTokens();
    assert.deepEqual(
      listed.map((t) => [t.id, t.can_edit, t.accounts]),
      [
        [id(1, 'd'), true, [A2, A1]],
        [id(2, 'd'), false, [A2, A1]],
      ],
    );
    assert.equal(await store.findTokenByHash(hashSecret('nope')), undefined);
  });

  test('upsertToken: given an existing token, when upserted with a new scope and status, then both are replaced', async () => {
    await seedAccounts();
    await store.upsertToken(token());
    await store.upsertToken(
      token({
        status: 'disabled',
        expires_on: '2030-01-01T00:00:00Z',
        accounts: [A3],
        organizations: [],
        created: T1,
      }),
    );
    const t = await store.getToken(id(1, 'd'));
    assert.equal(t?.status, 'disabled');
    assert.equal(t?.expires_on, '2030-01-01T00:00:00Z');
    assert.deepEqual(t?.accounts, [A3]);
    assert.deepEqual(t?.organizations, []);
    assert.equal(t?.created, T0);
  });
});

describe('TenancyStore: per-request lookups and batches', () => {
  test('organizationMembers: given ids inside, outside and unknown to an organization, when asked, then only its members come back', async () => {
    await seedAccounts();
    assert.deepEqual(await store.organizationMembers(ORG, [A1, A3, id(9, 'b'), A2]), new Set([A1, A2]));
    assert.deepEqual(await store.organizationMembers(ORG2, [A1, A3]), new Set([A3]));
    assert.deepEqual(await store.organizationMembers(ORG, []), new Set());
  });

  test('findTokenCredential: given a token scoped to A1 and ORG, when asked about each target, then in_scope answers for that target only, an in-scope account comes with its row and the scope is not loaded', async () => {
    await seedAccounts();
    await store.upsertToken(token({ accounts: [A1] }));
    const hash = hashSecret('token-1');
    const { accounts: _a, organizations: _o, ...row } = token({ accounts: [A1] });
    assert.deepEqual(await store.findTokenCredential(hash, { account: A1 }), {
      ...row,
      in_scope: true,
      account: await store.getAccount(A1),
    });
    assert.deepEqual(await store.findTokenCredential(hash, { account: A2 }), { ...row, in_scope: false });
    assert.equal((await store.findTokenCredential(hash, { organization: ORG }))?.in_scope, true);
    assert.equal((await store.findTokenCredential(hash, { organization: ORG2 }))?.in_scope, false);
    assert.equal((await store.findTokenCredential(hash, null))?.in_scope, false);
    assert.equal(await store.findTokenCredential(hashSecret('nope'), { account: A1 }), undefined);
  });

  test('findUserCredential: given a user scoped to A1 and ORG, when asked about each target, then in_scope answers for that target only and an in-scope account comes with its row', async () => {
    await seedAccounts();
    await store.upsertUser(user());
    const { accounts: _a, organizations: _o, ...row } = user();
    assert.deepEqual(await store.findUserCredential('ops@acme.test', { account: A1 }), {
      ...row,
      in_scope: true,
      account: await store.getAccount(A1),
    });
    assert.deepEqual(await store.findUserCredential('ops@acme.test', { account: A3 }), {
      ...row,
      in_scope: false,
    });
    assert.equal((await store.findUserCredential('ops@acme.test', { organization: ORG }))?.in_scope, true);
    assert.equal((await store.findUserCredential('ops@acme.test', { organization: ORG2 }))?.in_scope, false);
    assert.equal(await store.findUserCredential('nobody@acme.test', null), undefined);
  });

  test('applyBatch: given 2,000 accounts, a token and a user over all of them, when applied, re-applied and re-scoped, then rows match, unchanged rows are not written and organization work is queued once', async () => {
    const accounts = Array.from({ length: 2000 }, (_, i) => id(i + 1, 'e'));
    const batch = (scope: string[]) => ({
      organizations: [{ id: ORG, name: 'Acme' }],
      accounts: accounts.map((a, i) => ({ id: a, name: `A${i}`, organization_id: ORG, entitlements: null })),
      users: [
        {
          id: id(1, 'c'),
          email: 'ops@acme.test',
          api_key_hash: hashSecret('k'),
          accounts: scope,
          organizations: [ORG],
        },
      ],
      tokens: [{ ...token({ accounts: scope }), created: undefined }].map(({ created: _c, ...t }) => t),
      now: T0,
    });
    await seedAccounts();
    await db.sql('DELETE FROM reconcile_work');
    const first = await store.applyBatch(batch(accounts));
    assert.deepEqual(first.accounts, { created: 2000, updated: 0, unchanged: 0 });
    assert.deepEqual(first.tokens, { created: 1, updated: 0, unchanged: 0 });
    assert.deepEqual((await store.getToken(id(1, 'd')))?.accounts, accounts);
    assert.deepEqual(await db.sql("SELECT kind, id FROM reconcile_work WHERE kind = 'organization'"), [
      { kind: 'organization', id: ORG },
    ]);
    await db.sql('DELETE FROM reconcile_work');

    const again = await store.applyBatch({ ...batch(accounts), now: T1 });
    assert.deepEqual(again, {
      organizations: { created: 0, updated: 0, unchanged: 1 },
      accounts: { created: 0, updated: 0, unchanged: 2000 },
      users: { created: 0, updated: 0, unchanged: 1 },
      tokens: { created: 0, updated: 0, unchanged: 1 },
    });
    assert.equal((await store.getAccount(accounts[0] as string))?.modified, T0);
    assert.equal(await db.store.reconciler.pendingCount(), 0);

    const rescoped = [...accounts.slice(1), A1];
    const third = await store.applyBatch({ ...batch(rescoped), now: T1 });
    assert.deepEqual(third.tokens, { created: 0, updated: 1, unchanged: 0 });
    assert.deepEqual(third.users, { created: 0, updated: 1, unchanged: 0 });
    assert.deepEqual(new Set((await store.getToken(id(1, 'd')))?.accounts), new Set(rescoped));
    assert.deepEqual(new Set((await store.findUserByEmail('ops@acme.test'))?.accounts), new Set(rescoped));
    assert.equal(
      (await store.findTokenCredential(hashSecret('token-1'), { account: accounts[0] as string }))?.in_scope,
      false,
    );
  });

  test('applyBatch: given the same batch applied by two callers at once, when both finish, then the rows are written once and both agree', async () => {
    await seedAccounts();
    const other = await openStoreAt(db.url);
    try {
      const batch = {
        organizations: [{ id: ORG, name: 'Acme renamed' }],
        accounts: [{ id: A3, name: 'Moved', organization_id: ORG, entitlements: null }],
        users: [],
        tokens: [],
        now: T1,
      };
      const results = await Promise.all([store.applyBatch(batch), other.tenancy.applyBatch(batch)]);
      assert.deepEqual(
        results.map((r) => r.accounts.updated + r.accounts.unchanged),
        [1, 1],
      );
      assert.equal((await store.getAccount(A3))?.organization_id, ORG);
      assert.equal((await store.getOrganization(ORG))?.name, 'Acme renamed');
    } finally {
      await other.close();
    }
  });
});

describe('TenancyService', () => {
  test('createAccount: given an unknown organization, when created, then it fails naming the organization', async () => {
    await assert.rejects(service.createAccount({ name: 'X', organization_id: ORG }), {
      message: `invalid account: organization_id: unknown organization ${ORG}`,
    });
  });

  test('createOrganization: given an id that exists, when created again, then it fails', async () => {
    await service.createOrganization({ id: ORG, name: 'Acme' });
    await assert.rejects(service.createOrganization({ id: ORG, name: 'Again' }), /already exists/);
    await assert.rejects(service.createOrganization({ id: 'ABC', name: 'Bad' }), /id: not a valid id/);
    await assert.rejects(service.createOrganization({ name: '  ' }), /name: must not be empty/);
  });

  test('createUser: given no api key, when created, then a key is generated and only its hash is stored', async () => {
    const org = await service.createOrganization({ name: 'Acme' });
    const { user: row, apiKey } = await service.createUser({
      email: 'ops@acme.test',
      accounts: [],
      organizations: [org.id],
    });
    assert.match(apiKey, /^[A-Za-z0-9_-]{40}$/);
    assert.equal(row.api_key_hash, hashSecret(apiKey));
    assert.deepEqual((await store.findUserByEmail('ops@acme.test'))?.organizations, [org.id]);
    await assert.rejects(
      service.createUser({ email: 'ops@acme.test', accounts: [], organizations: [] }),
      /already exists/,
    );
    await assert.rejects(
      service.createUser({ email: 'not-an-email', accounts: [], organizations: [] }),
      /email/,
    );
  });

  test('createToken: given a value shorter than 16 characters, when created, then it fails saying why and nothing is stored', async () => {
    await assert.rejects(
      service.createToken({
        name: 'x',
        value: 'fifteen-chars-x',
        accounts: [],
        organizations: [],
        permissions: ['read'],
      }),
      { message: 'invalid token: value: must be at least 16 characters: shorter tokens can be guessed' },
    );
    assert.deepEqual(await store.listTokens(), []);
  });

  test('createToken: given edit without read, when created, then it fails', async () => {
    await assert.rejects(
      service.createToken({ name: 'x', accounts: [], organizations: [], permissions: ['edit'] }),
      /permissions: 'edit' requires 'read'/,
    );
  });

  test('createToken: given read and edit, when created, then can_edit is set and the value is returned once', async () => {
    await seedAccounts();
    const { token: row, value } = await service.createToken({
      name: 'ci',
      accounts: [A1, A1],
      organizations: [],
      permissions: ['read', 'edit'],
      expires_on: '2030-01-01T12:00:00+02:00',
    });
    assert.equal(row.can_edit, true);
    assert.equal(row.status, 'active');
    assert.equal(row.expires_on, '2030-01-01T10:00:00Z');
    assert.deepEqual(row.accounts, [A1]);
    assert.deepEqual(await store.findTokenByHash(hashSecret(value)), row);
    await assert.rejects(
      service.createToken({ name: 'dup', value, accounts: [], organizations: [], permissions: ['read'] }),
      new RegExp(`value: already used by token ${row.id}`),
    );
  });
});

describe('seedDemo', () => {
  test('seedDemo: given an empty store, when seeded, then the demo tenancy and credentials exist', async () => {
    const seed = await seedDemo(service, store);
    assert.ok(seed);
    const accounts = await store.listAccounts(seed.organizationId);
    assert.deepEqual(
      accounts.map((a) => a.name),
      ['Demo Owner', 'Demo Recipient 1', 'Demo Recipient 2', 'Demo Recipient 3'],
    );
    const t = await store.findTokenByHash(hashSecret(seed.token));
    assert.equal(t?.can_edit, true);
    assert.equal(t?.name, 'demo');
    assert.deepEqual(t?.accounts, [seed.ownerAccountId, ...seed.recipientAccountIds]);
    assert.deepEqual(t?.organizations, [seed.organizationId]);
    const u = await store.findUserByEmail('demo@rshare.test');
    assert.equal(u?.api_key_hash, hashSecret(seed.apiKey));
    assert.equal(u?.accounts.length, 4);
  });

  test('seedDemo: given a store with an organization, when seeded, then nothing is created', async () => {
    await service.createOrganization({ name: 'Existing' });
    assert.equal(await seedDemo(service, store), undefined);
    assert.equal((await store.listAccounts()).length, 0);
  });

  test('formatDemoBanner: given a seed and a server origin, when formatted, then the curl targets the API root', async () => {
    const seed = await seedDemo(service, store);
    assert.ok(seed);
    const banner = formatDemoBanner(seed, 'http://127.0.0.1:8787');
    assert.match(banner, /BASE=http:\/\/127\.0\.0\.1:8787\/client\/v4\n/);
    assert.ok(banner.includes(`"$BASE/accounts/${seed.ownerAccountId}/shares"`));
    assert.ok(banner.includes(`Authorization: Bearer ${seed.token}`));
    assert.ok(banner.includes(`"recipient_account_id":"${seed.recipientAccountIds[0]}"`));
    assert.ok(banner.includes(seed.apiKey));
    assert.equal(formatDemoBanner(seed, 'http://127.0.0.1:8787/client/v4/'), banner);
    assert.doesNotMatch(banner, /admin token/);
    const withAdmin = formatDemoBanner(seed, 'http://127.0.0.1:8787', 'admin-secret-1');
    assert.match(
      withAdmin,
      /\n {2}admin token {9}admin-secret-1 {2}\(http:\/\/127\.0\.0\.1:8787\/_rshare; this run only\)\n/,
    );
  });
});

/** A second handle on the same database, as another process would have. */
function openStoreAt(url: string) {
  return openStore(url, { poolSize: 2, pgPooler: PG_POOLER });
}
