import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { membershipId } from '../src/cloudflare/memberships/service.js';
import {
  assertError,
  call,
  hexId,
  ID,
  LONER,
  OWNER,
  R1,
  R2,
  R3,
  setup,
  TOKENS,
  USER,
  type Harness,
} from './helpers.js';
import { assertOnePage, assertPageInfo } from './support/assert.js';

const URL = '/client/v4/memberships';
const userHeaders = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };
const KEYS = [
  'analytics',
  'billing',
  'cache_purge',
  'dns',
  'dns_records',
  'lb',
  'logs',
  'organization',
  'ssl',
  'waf',
  'zone_settings',
  'zones',
];

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => {
  await h.close();
});

interface Membership {
  id: string;
  account: { id: string; name: string };
  permissions: Record<string, { read: boolean; write: boolean }>;
  roles: string[];
  status: string;
}

const accountIds = (res: { body: { result: Membership[] } }) => res.body.result.map((m) => m.account.id);

describe('GET /memberships', () => {
  test("given the owner's edit token, when listing, then one accepted Administrator membership of OWNER with every permission writable", async () => {
    const res = await call(h.app, 'GET', URL);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertOnePage(res, 1);
    const [m] = res.body.result as Membership[];
    assert.ok(m);
    assert.match(m.id, ID);
    assert.equal(m.id, membershipId({ kind: 'token', id: hexId(1, 'c') }, OWNER));
    // The account exactly as GET /accounts shows it.
    const [account] = (await call(h.app, 'GET', '/client/v4/accounts')).body.result;
    assert.deepEqual(m.account, account);
    assert.equal(m.account.name, 'Acme Owner');
    assert.deepEqual(m.permissions, Object.fromEntries(KEYS.map((k) => [k, { read: true, write: true }])));
    assert.deepEqual(m.roles, ['Administrator']);
    assert.equal(m.status, 'accepted');
    assert.equal((m as unknown as { api_access_enabled: unknown }).api_access_enabled, null);
  });

  test('given a read-only token, when listing, then every permission is readable and none writable', async () => {
    const res = await call(h.app, 'GET', URL, { token: TOKENS.ownerRead });
    const [m] = res.body.result as Membership[];
    assert.ok(m);
    assert.deepEqual(m.permissions, Object.fromEntries(KEYS.map((k) => [k, { read: true, write: false }])));
    assert.deepEqual(m.roles, ['Administrator Read Only']);
  });

  test("given an organization token and a user, when listing, then each sees its scope's accounts by name, and nothing else", async () => {
    const org = await call(h.app, 'GET', URL, { token: TOKENS.org });
    assert.deepEqual(accountIds(org), [OWNER, R1, R2, R3]);
    const user = await call(h.app, 'GET', URL, { token: null, headers: userHeaders });
    assert.deepEqual(accountIds(user), [OWNER, R1, R2, R3]);
    assert.ok(!accountIds(user).includes(LONER));
    const loner = await call(h.app, 'GET', URL, { token: TOKENS.loner });
    assert.deepEqual(accountIds(loner), [LONER]);
  });

  test('given two credentials on one account, when listing twice, then each keeps its own stable membership id', async () => {
    const first = (await call(h.app, 'GET', URL, { token: TOKENS.org })).body.result[0] as Membership;
    const again = (await call(h.app, 'GET', URL, { token: TOKENS.org })).body.result[0] as Membership;
    const user = (await call(h.app, 'GET', URL, { token: null, headers: userHeaders })).body
      .result[0] as Membership;
    assert.equal(first.account.id, user.account.id);
    assert.equal(first.id, again.id);
    assert.notEqual(first.id, user.id);
  });

  test('given page, per_page, direction, a name and a status, when listing, then Cloudflare pagination and filters apply', async () => {
    const page2 = await call(h.app, 'GET', `${URL}?page=2&per_page=3`, { token: TOKENS.org });
    assert.deepEqual(accountIds(page2), [R3]);
    assertPageInfo(page2, 2, 3, 1, 4, 2);
    const desc = await call(h.app, 'GET', `${URL}?direction=desc&order=account.name`, { token: TOKENS.org });
    assert.deepEqual(accountIds(desc), [R3, R2, R1, OWNER]);
    const named = await call(h.app, 'GET', `${URL}?name=r2`, { token: TOKENS.org });
    assert.deepEqual(accountIds(named), [R2]);
    const dotted = await call(h.app, 'GET', `${URL}?account.name=R1`, { token: TOKENS.org });
    assert.deepEqual(accountIds(dotted), [R1]);
    const accepted = await call(h.app, 'GET', `${URL}?status=accepted`, { token: TOKENS.org });
    assert.equal(accepted.body.result_info.total_count, 4);
    const pending = await call(h.app, 'GET', `${URL}?status=pending`, { token: TOKENS.org });
    assert.deepEqual(pending.body.result, []);
    assert.equal(pending.body.result_info.total_count, 0);
  });

  test('given invalid query parameters, when listing, then 400 1400 pointing at the parameter', async () => {
    assertError(
      await call(h.app, 'GET', `${URL}?per_page=51`),
      400,
      1400,
      'per_page must be at most 50',
      '/query/per_page',
    );
    assertError(
      await call(h.app, 'GET', `${URL}?order=id`),
      400,
      1400,
      'order must be one of: account.name, status',
      '/query/order',
    );
    assertError(
      await call(h.app, 'GET', `${URL}?status=maybe`),
      400,
      1400,
      'status must be one of: accepted, pending, rejected',
      '/query/status',
    );
  });

  test('given the root alias, when listing, then it answers as under /client/v4', async () => {
    const res = await call(h.app, 'GET', '/memberships');
    assert.deepEqual(accountIds(res), [OWNER]);
  });
});
