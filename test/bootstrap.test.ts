import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TenancyStore } from '../src/platform/tenancy/store.js';
import { openTestStore, type TestStore } from './support/store.js';
import { openTenancy } from './support/tenancy.js';
import type { ManualClock } from '../src/lib/clock.js';
import { hashSecret } from '../src/lib/secrets.js';
import { buildApp } from '../src/app.js';
import { applyBootstrap, loadBootstrapFile } from '../src/platform/tenancy/bootstrap.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { call, hexId as id } from './helpers.js';

const ORG = id(1, 'a');
const PROD = id(1, 'b');
const STAGING = id(2, 'b');
const CI_TOKEN = 'ci-token-value-0123456789abcdef';
const READ_TOKEN = 'read-token-value-0123456789abcd';
const SOURCE = '/etc/rshare/bootstrap.json';

/** The id rshare derived from a token's value before ids were random; stores made then still hold it. */
const legacyTokenId = (value: string): string =>
  createHash('sha256').update(`rshare token id\0${value}`, 'utf8').digest('hex').slice(0, 32);

let dir: string;
let db: TestStore;
let store: TenancyStore;
let clock: ManualClock;
let service: TenancyService;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rshare-bootstrap-'));
  ({ db, clock, service } = await openTenancy());
  store = db.store.tenancy;
});

afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The file's shape with plain strings, so cases can break it in ways the real type forbids. */
interface LooseFile {
  organizations: { id: string; name: string }[];
  accounts: { id: string; name: string; organization_id?: string | null; entitlements?: string[] | null }[];
  users: { email: string; api_key?: string; accounts?: string[]; organizations?: string[] }[];
  tokens: {
    value: string;
    name: string;
    accounts?: string[];
    organizations?: string[];
    permissions: string[];
    status?: string;
    expires_on?: string | null;
  }[];
}

function validFile(): LooseFile {
  return {
    organizations: [{ id: ORG, name: 'Acme' }],
    accounts: [
      { id: PROD, name: 'Acme Prod', organization_id: ORG, entitlements: ['custom-ruleset'] },
      { id: STAGING, name: 'Acme Staging', organization_id: ORG },
    ],
    users: [
      {
        email: 'ops@acme.test',
        api_key: 'ops-global-key-0123456789',
        accounts: [PROD],
        organizations: [ORG],
      },
    ],
    tokens: [
      {
        value: CI_TOKEN,
        name: 'ci',
        accounts: [PROD, STAGING],
        organizations: [ORG],
        permissions: ['read', 'edit'],
        status: 'active',
        expires_on: null,
      },
      { value: READ_TOKEN, name: 'dashboards', accounts: [PROD], permissions: ['read'] },
    ],
  };
}

async function snapshot() {
  return {
    organizations: await store.listOrganizations(),
    accounts: await store.listAccounts(),
    users: await store.listUsers(),
    tokens: await store.listTokens(),
  };
}

async function assertEmpty(): Promise<void> {
  assert.deepEqual(await snapshot(), { organizations: [], accounts: [], users: [], tokens: [] });
}

/** Applies `file` expecting a rejection whose message contains every fragment. */
async function assertRejected(file: unknown, ...fragments: string[]): Promise<void> {
  await assert.rejects(applyBootstrap(service, file, SOURCE), (err: Error) => {
    assert.ok(err.message.startsWith(`bootstrap ${SOURCE}: `), err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `expected "${f}" in: ${err.message}`);
    return true;
  });
}

describe('applyBootstrap', () => {
  test('applyBootstrap: given a valid file, when applied twice, then the second run changes nothing', async () => {
    const first = await applyBootstrap(service, validFile(), SOURCE);
    assert.deepEqual(first.tokens, { created: 2, updated: 0, unchanged: 0 });
    const before = await snapshot();
    clock.advance(60_000);
    const second = await applyBootstrap(service, validFile(), SOURCE);
    for (const kind of ['organizations', 'accounts', 'users', 'tokens'] as const) {
      assert.equal(second[kind].created + second[kind].updated, 0, kind);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('applyBootstrap: given a valid file, when applied, then rows match the file and tokens authenticate', async () => {
    await applyBootstrap(service, validFile(), SOURCE);
    const prod = await store.getAccount(PROD);
    assert.deepEqual(prod?.entitlements, ['custom-ruleset']);
    assert.equal((await store.getAccount(STAGING))?.entitlements, null);
    const user = await store.findUserByEmail('ops@acme.test');
    assert.equal(user?.api_key_hash, hashSecret('ops-global-key-0123456789'));
    const ci = await store.findTokenByHash(hashSecret(CI_TOKEN));
    assert.equal(ci?.can_edit, true);
    assert.deepEqual(ci?.accounts, [PROD, STAGING]);
    const read = await store.findTokenByHash(hashSecret(READ_TOKEN));
    assert.equal(read?.can_edit, false);
    assert.equal(read?.status, 'active');
    assert.equal(read?.expires_on, null);
  });

  test('applyBootstrap: given the same token value in two fresh stores, when applied, then the ids differ and none derives from the value', async () => {
    const other = await openTestStore();
    try {
      await applyBootstrap(service, validFile(), SOURCE);
      await applyBootstrap(new TenancyService(other.store.tenancy, clock), validFile(), SOURCE);
      const here = await store.findTokenByHash(hashSecret(CI_TOKEN));
      const there = await other.store.tenancy.findTokenByHash(hashSecret(CI_TOKEN));
      assert.match(here?.id ?? '', /^[0-9a-f]{32}$/);
      assert.match(there?.id ?? '', /^[0-9a-f]{32}$/);
      assert.notEqual(here?.id, there?.id);
      for (const id of [here?.id, there?.id]) {
        assert.notEqual(id, legacyTokenId(CI_TOKEN));
        assert.ok(!hashSecret(CI_TOKEN).includes(id ?? ''));
      }
    } finally {
      await other.close();
    }
  });

  test('applyBootstrap: given a token written before ids were random (id derived from its value), when the file is re-applied, then that row is updated in place and the token still authenticates', async () => {
    const legacy = validFile();
    const { tokens: _t, ...tenancy } = legacy;
    await applyBootstrap(service, tenancy, SOURCE);
    const oldId = legacyTokenId(CI_TOKEN);
    // As the earlier bootstrap wrote it: same fields as the file, the id derived from the value.
    await store.upsertToken({
      id: oldId,
      name: 'ci',
      secret_hash: hashSecret(CI_TOKEN),
      can_edit: true,
      status: 'active',
      expires_on: null,
      created: clock.timestamp(),
      accounts: [PROD, STAGING],
      organizations: [ORG],
    });
    clock.advance(1000);
    assert.deepEqual((await applyBootstrap(service, validFile(), SOURCE)).tokens, {
      created: 1,
      updated: 0,
      unchanged: 1,
    });
    const file = validFile();
    file.tokens[0] = { ...file.tokens[0]!, permissions: ['read'] };
    assert.deepEqual((await applyBootstrap(service, file, SOURCE)).tokens, {
      created: 0,
      updated: 1,
      unchanged: 1,
    });
    assert.equal((await store.listTokens()).length, 2);
    const ci = await store.findTokenByHash(hashSecret(CI_TOKEN));
    assert.equal(ci?.id, oldId);
    assert.equal(ci?.can_edit, false);
    const app = await buildApp({ store: db.store, clock });
    try {
      const res = await call(app, 'GET', `/client/v4/accounts/${PROD}/shares`, { token: CI_TOKEN });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    } finally {
      await app.close();
    }
  });

  test('applyBootstrap: given an edited file, when re-applied, then the same ids are updated in place', async () => {
    await applyBootstrap(service, validFile(), SOURCE);
    const ciId = (await store.findTokenByHash(hashSecret(CI_TOKEN)))?.id ?? '';
    const file = validFile();
    file.organizations[0] = { id: ORG, name: 'Acme Inc' };
    file.accounts[0] = {
      id: PROD,
      name: 'Acme Prod',
      organization_id: ORG,
      entitlements: ['gateway-policy'],
    };
    file.users[0] = { ...file.users[0]!, accounts: [STAGING] };
    file.tokens[0] = { ...file.tokens[0]!, permissions: ['read'], status: 'disabled' };
    clock.advance(1000);
    const summary = await applyBootstrap(service, file, SOURCE);
    assert.deepEqual(summary.organizations, { created: 0, updated: 1, unchanged: 0 });
    assert.deepEqual(summary.accounts, { created: 0, updated: 1, unchanged: 1 });
    assert.deepEqual(summary.users, { created: 0, updated: 1, unchanged: 0 });
    assert.deepEqual(summary.tokens, { created: 0, updated: 1, unchanged: 1 });
    const ci = await store.getToken(ciId);
    assert.equal(ci?.can_edit, false);
    assert.equal(ci?.status, 'disabled');
    assert.equal((await store.listTokens()).length, 2);
    assert.deepEqual((await store.findUserByEmail('ops@acme.test'))?.accounts, [STAGING]);
    assert.deepEqual((await store.getAccount(PROD))?.entitlements, ['gateway-policy']);
  });

  test('applyBootstrap: given references to rows already in the store, when applied, then they are accepted', async () => {
    await service.createOrganization({ id: ORG, name: 'Acme' });
    await service.createAccount({ id: PROD, name: 'Prod', organization_id: ORG });
    await applyBootstrap(
      service,
      {
        tokens: [
          { value: CI_TOKEN, name: 'ci', accounts: [PROD], organizations: [ORG], permissions: ['read'] },
        ],
      },
      SOURCE,
    );
    assert.equal((await store.listTokens()).length, 1);
  });

  test('applyBootstrap: given an empty object, when applied, then nothing happens', async () => {
    await applyBootstrap(service, {}, SOURCE);
    await assertEmpty();
  });
});

describe('applyBootstrap rejects bad entries and writes nothing', () => {
  const cases: [string, (f: LooseFile) => unknown, string[]][] = [
    [
      'a token with edit but not read',
      (f) => ((f.tokens[1]!.permissions = ['edit']), f),
      ["tokens[1].permissions: 'edit' requires 'read'"],
    ],
    [
      'an unknown permission',
      (f) => ((f.tokens[0]!.permissions = ['read', 'admin']), f),
      ['tokens[0].permissions[1]: must be one of read, edit'],
    ],
    [
      'a token listed twice',
      (f) => (f.tokens.push({ ...f.tokens[0]!, name: 'again' }), f),
      ['tokens[2].value: duplicate of tokens[0]'],
    ],
    [
      'an account in an unknown organization',
      (f) => ((f.accounts[0]!.organization_id = id(9, 'a')), f),
      [`accounts[0].organization_id: unknown organization ${id(9, 'a')}`],
    ],
    [
      'an unknown entitlement',
      (f) => ((f.accounts[0]!.entitlements = ['custom-ruleset', 'dns-record']), f),
      ['accounts[0].entitlements[1]: must be one of custom-ruleset'],
    ],
    [
      'a malformed organization id',
      (f) => ((f.organizations[0]!.id = 'ACME'), f),
      ['organizations[0].id: must be 32 lowercase hex characters'],
    ],
    [
      'an organization listed twice',
      (f) => (f.organizations.push({ id: ORG, name: 'Copy' }), f),
      ['organizations[1].id: duplicate of organizations[0]'],
    ],
    [
      'an empty account name',
      (f) => ((f.accounts[1]!.name = ' '), f),
      ['accounts[1].name: must not be empty'],
    ],
    [
      'a user with a bad email',
      (f) => ((f.users[0]!.email = 'ops-at-acme'), f),
      ['users[0].email: not a valid email address'],
    ],
    [
      'a user scoped to an unknown account',
      (f) => ((f.users[0]!.accounts = [PROD, id(9, 'b')]), f),
      [`users[0].accounts[1]: unknown account ${id(9, 'b')}`],
    ],
    [
      'a user without an api key',
      (f) => (delete (f.users[0] as { api_key?: string }).api_key, f),
      ['users[0]'],
    ],
    [
      'a token with a bad expiry',
      (f) => ((f.tokens[0]!.expires_on = 'next week'), f),
      ['tokens[0].expires_on: not an RFC 3339 date-time'],
    ],
    [
      'a token with an unknown status',
      (f) => ((f.tokens[0]!.status = 'paused'), f),
      ['tokens[0].status: must be one of active, disabled'],
    ],
    [
      'a misspelt field',
      (f) => ({ ...f, accounts: [{ ...f.accounts[0]!, organisation_id: ORG }] }),
      ['accounts[0].organisation_id: unknown field'],
    ],
    ['a file that is not an object', () => [1, 2], ['(file): expected object']],
  ];
  for (const [given, mutate, fragments] of cases) {
    test(`applyBootstrap: given ${given}, when applied, then it is rejected with the entry's path and nothing is written`, async () => {
      await assertRejected(mutate(validFile()), ...fragments);
      await assertEmpty();
    });
  }

  test('applyBootstrap: given several bad entries, when applied, then every one is reported', async () => {
    const f = validFile();
    f.tokens[1]!.permissions = ['edit'];
    f.accounts[0]!.organization_id = id(9, 'a');
    await assertRejected(f, 'tokens[1].permissions', 'accounts[0].organization_id');
  });

  test('applyBootstrap: given a token value already used by a CLI-created token, when applied, then the file updates that token (tokens are keyed by value)', async () => {
    const { token } = await service.createToken({
      name: 'manual',
      value: CI_TOKEN,
      accounts: [],
      organizations: [],
      permissions: ['read'],
    });
    const summary = await applyBootstrap(service, validFile(), SOURCE);
    assert.deepEqual(summary.tokens, { created: 1, updated: 1, unchanged: 0 });
    const ci = await store.findTokenByHash(hashSecret(CI_TOKEN));
    assert.equal(ci?.id, token.id);
    assert.equal(ci?.name, 'ci');
    assert.deepEqual(ci?.accounts, [PROD, STAGING]);
  });

  for (const [given, value] of [
    ['a token of 15 characters', 'x'.repeat(15)],
    ['a token of 1 character', 'x'],
  ] as const) {
    test(`applyBootstrap: given ${given}, when applied, then it is refused because it could be guessed, and nothing is written`, async () => {
      const f = validFile();
      f.tokens[1]!.value = value;
      await assert.rejects(applyBootstrap(service, f, SOURCE), {
        message: `bootstrap ${SOURCE}: tokens[1].value: must be at least 16 characters: shorter tokens can be guessed`,
      });
      await assertEmpty();
    });
  }

  for (const [given, text, message] of [
    ['a lone surrogate', 'Prod \udfff', 'Text is not valid Unicode (lone surrogate)'],
    ['a NUL', 'Prod \u0000', 'Text must not contain the NUL character (\\u0000)'],
  ] as const) {
    test(`applyBootstrap: given an account name holding ${given}, when applied, then it is refused at its place, and nothing is written`, async () => {
      const f = validFile();
      f.accounts[1]!.name = text;
      await assert.rejects(applyBootstrap(service, f, SOURCE), {
        message: `bootstrap ${SOURCE}: accounts[1].name: ${message}`,
      });
      await assertEmpty();
    });
  }

  test('applyBootstrap: given a token of exactly 16 characters, when applied, then it is accepted', async () => {
    const f = validFile();
    f.tokens[1]!.value = 'x'.repeat(16);
    assert.deepEqual((await applyBootstrap(service, f, SOURCE)).tokens, {
      created: 2,
      updated: 0,
      unchanged: 0,
    });
  });

  test('applyBootstrap: given a rejected file, when the error is read, then no secret appears in it', async () => {
    const f = validFile();
    f.tokens.push({ ...f.tokens[0]!, name: 'again' });
    f.users[0]!.api_key = 'has a space';
    await assert.rejects(applyBootstrap(service, f, SOURCE), (err: Error) => {
      assert.ok(!err.message.includes(CI_TOKEN));
      assert.ok(!err.message.includes('has a space'));
      assert.ok(err.message.includes('users[0].api_key'));
      return true;
    });
  });
});

describe('loadBootstrapFile', () => {
  test('loadBootstrapFile: given a JSON file, when loaded, then it is parsed', async () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(validFile()));
    assert.deepEqual(await loadBootstrapFile(path), validFile());
  });

  test('loadBootstrapFile: given a missing file, when loaded, then the error names the file', async () => {
    const path = join(dir, 'missing.json');
    await assert.rejects(loadBootstrapFile(path), {
      message: new RegExp(`^bootstrap ${path}: cannot read file`),
    });
  });

  test('loadBootstrapFile: given malformed JSON, when loaded, then the error says so', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"organizations": [');
    await assert.rejects(loadBootstrapFile(path), {
      message: new RegExp(`^bootstrap ${path}: invalid JSON`),
    });
  });
});
