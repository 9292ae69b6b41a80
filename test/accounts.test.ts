import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Cloudflare from 'cloudflare';
import {
  assertError,
  call,
  hexId,
  LONER,
  ORG,
  OWNER,
  R1,
  R2,
  R3,
  STRANGER,
  setup,
  TIMESTAMP,
  TOKENS,
  USER,
  type Harness,
} from './helpers.js';
import { STORE_KIND } from './support/store.js';
import { assertOnePage, assertPageInfo } from './support/assert.js';

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => {
  await h.close();
});

const ids = (body: { result: { id: string }[] }) => body.result.map((a) => a.id);

describe('GET /accounts', () => {
  test('given an account-scoped token, when listing accounts, then only its account, in Cloudflare shape', async () => {
    const res = await call(h.app, 'GET', '/client/v4/accounts', { token: TOKENS.owner });
    assert.equal(res.status, 200);
    assert.equal(res.body.success, true);
    assert.equal(res.body.result.length, 1);
    const [account] = res.body.result;
    assert.match(account.created_on, TIMESTAMP);
    assert.deepEqual(
      { ...account, created_on: undefined },
      {
        id: OWNER,
        name: 'Acme Owner',
        type: 'standard',
        created_on: undefined,
        managed_by: { parent_org_id: ORG, parent_org_name: 'Acme' },
        settings: { enforce_twofactor: false },
      },
    );
    assertOnePage(res, 1);
  });

  test('given an organization-scoped token, when listing, then every member account by name, none of another organization', async () => {
    const res = await call(h.app, 'GET', '/accounts', { token: TOKENS.org });
    assert.equal(res.status, 200);
    assert.deepEqual(ids(res.body), [OWNER, R1, R2, R3]);
  });

  test('given a user with an account and its organization, when listing, then each account once', async () => {
    const res = await call(h.app, 'GET', '/client/v4/accounts', {
      token: null,
      headers: { 'x-auth-email': USER.email, 'x-auth-key': USER.key },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(ids(res.body), [OWNER, R1, R2, R3]);
    assert.equal(res.body.result_info.total_count, 4);
  });

  test('given an account in no organization, when listing, then it has no managed_by', async () => {
    const res = await call(h.app, 'GET', '/client/v4/accounts', { token: TOKENS.loner });
    assert.deepEqual(ids(res.body), [LONER]);
    assert.equal(res.body.result[0].managed_by, undefined);
  });

  test('given a stranger and a read-only token, when listing, then each sees its own scope only', async () => {
    assert.deepEqual(ids((await call(h.app, 'GET', '/accounts', { token: TOKENS.stranger })).body), [
      STRANGER,
    ]);
    assert.deepEqual(ids((await call(h.app, 'GET', '/accounts', { token: TOKENS.ownerRead })).body), [OWNER]);
  });

  test('given pages, a direction and a name filter, when listing, then SQL paging, reverse order and case-insensitive substring', async () => {
    const page2 = await call(h.app, 'GET', '/accounts?per_page=3&page=2', { token: TOKENS.org });
    assert.deepEqual(ids(page2.body), [R3]);
    assertPageInfo(page2, 2, 3, 1, 4, 2);
    const desc = await call(h.app, 'GET', '/accounts?direction=desc&per_page=2', { token: TOKENS.org });
    assert.deepEqual(ids(desc.body), [R3, R2]);
    const named = await call(h.app, 'GET', '/accounts?name=aCMe%20r', { token: TOKENS.org });
    assert.deepEqual(ids(named.body), [R1, R2, R3]);
    const none = await call(h.app, 'GET', '/accounts?name=nothing', { token: TOKENS.org });
    assertPageInfo(none, 1, 20, 0, 0, 0);
    const beyond = await call(h.app, 'GET', '/accounts?page=9', { token: TOKENS.org });
    assert.deepEqual(ids(beyond.body), []);
    assert.equal(beyond.body.result_info.total_count, 4);
  });

  test('given bad queries or no credentials, when listing, then the usual errors', async () => {
    assertError(
      await call(h.app, 'GET', '/accounts?direction=up'),
      400,
      1400,
      'direction must be one of: asc, desc',
      '/query/direction',
    );
    assertError(
      await call(h.app, 'GET', '/accounts?per_page=101'),
      400,
      1400,
      'per_page must be at most 100',
      '/query/per_page',
    );
    assertError(
      await call(h.app, 'GET', '/accounts', { token: null }),
      400,
      9106,
      'Missing X-Auth-Key, X-Auth-Email or Authorization headers',
    );
    assertError(
      await call(h.app, 'GET', '/accounts', { token: 'no-such-token-value-0000001' }),
      400,
      1000,
      'Invalid API Token',
    );
  });

  test('given an organization of 20,000 accounts, when reading one page, then one page comes back with the full count', async () => {
    const big = hexId(0xb19, 'e');
    const now = h.clock.timestamp();
    await h.sql(
      'INSERT INTO organizations (id, name, created, modified) VALUES (?, ?, ?, ?)',
      big,
      'Big',
      now,
      now,
    );
    // 20,000 rows in one statement: ids e000…0001 to e000…4e20, names "Big 00001" to "Big 20000".
    const [id, name, series] =
      STORE_KIND === 'postgres'
        ? [
            "'e' || lpad(to_hex(i), 31, '0')",
            "'Big ' || lpad(i::text, 5, '0')",
            'generate_series(1, 20000) AS n (i)',
          ]
        : [
            "'e' || printf('%031x', i)",
            "printf('Big %05d', i)",
            '(WITH RECURSIVE s (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) SELECT i FROM s) AS n',
          ];
    await h.sql(
      `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
       SELECT ${id}, ${name}, ?, NULL, ?, ? FROM ${series}`,
      big,
      now,
      now,
    );
    await h.sql(
      'INSERT INTO token_organizations (token_id, organization_id) VALUES (?, ?)',
      hexId(9, 'c'),
      big,
    );
    const res = await call(h.app, 'GET', '/accounts?page=400&per_page=50&direction=desc', {
      token: TOKENS.loner,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.result.length, 50);
    assert.equal(res.body.result_info.total_count, 20_001);
    assert.equal(res.body.result[0].name, 'Big 00051');
    assert.equal(res.body.result[49].name, 'Big 00002');
    await h.sql('DELETE FROM token_organizations WHERE organization_id = ?', big);
  });
});

describe('GET /accounts through the SDK', () => {
  test('given the organization token, when iterating client.accounts.list, then every member account once', async () => {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    const cf = new Cloudflare({
      apiToken: TOKENS.org,
      apiKey: null,
      apiEmail: null,
      baseURL: `http://127.0.0.1:${port}/client/v4`,
      maxRetries: 0,
    });
    const seen: string[] = [];
    for await (const account of cf.accounts.list({ per_page: 2 })) seen.push(account.id);
    assert.deepEqual(seen, [OWNER, R1, R2, R3]);
    const page = await cf.accounts.list({ name: 'r2' });
    assert.deepEqual(
      page.result.map((a) => [a.id, a.name, a.type, a.managed_by?.parent_org_id]),
      [[R2, 'Acme R2', 'standard', ORG]],
    );
  });
});
