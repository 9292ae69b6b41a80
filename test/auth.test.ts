import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import {
  assertError,
  assertErrors,
  BAD_AUTHORIZATION,
  BAD_EMAIL,
  BAD_KEY,
  base,
  call,
  headerErrors,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  USER,
  type Harness,
} from './helpers.js';
import { servedRoutes } from './support/contract.js';
import { assertNoRoute, nonEmpty } from './support/assert.js';
import { addToken } from './support/shares.js';

const UNKNOWN = hexId(0xbeef, 'f');
const MISSING = 'Missing X-Auth-Key, X-Auth-Email or Authorization headers';
const UNKNOWN_KEY = 'Unknown X-Auth-Key or X-Auth-Email';
const userHeaders = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };

let h: Harness;

/** Asserts a share list with exactly `headers` (no token) is refused 400 6003, `causes` in its error chain. */
async function assertHeadersRefused(
  headers: Record<string, string>,
  ...causes: [number, string][]
): Promise<void> {
  assertErrors(await call(h.app, 'GET', base(), { token: null, headers }), 400, headerErrors(...causes));
}
/** OWNER's account-targeted share (recipient R1, one resource) and organization share (R1 excluded). */
let S: { id: string; recipientId: string; resourceId: string };
let O: { id: string; exclusionId: string };

interface Route {
  name: string;
  method: NonNullable<InjectOptions['method']>;
  url: string;
  body?: unknown;
}

/** Every route that names a share, for `account` in the path, on S (or O for excluded recipients). */
function objectRoutes(account: string, shareId = S.id, orgShareId = O.id): Route[] {
  const s = `${base(account)}/${shareId}`;
  const o = `${base(account)}/${orgShareId}`;
  return [
    { name: 'share get', method: 'GET', url: s },
    { name: 'share put', method: 'PUT', url: s, body: { name: 'Hijacked' } },
    { name: 'share delete', method: 'DELETE', url: s },
    { name: 'recipients list', method: 'GET', url: `${s}/recipients` },
    { name: 'recipient post', method: 'POST', url: `${s}/recipients`, body: { recipient_account_id: R2 } },
    { name: 'recipients put', method: 'PUT', url: `${s}/recipients`, body: [{ recipient_account_id: R2 }] },
    { name: 'recipient get', method: 'GET', url: `${s}/recipients/${S.recipientId}` },
    { name: 'recipient delete', method: 'DELETE', url: `${s}/recipients/${S.recipientId}` },
    { name: 'resources list', method: 'GET', url: `${s}/resources` },
    {
      name: 'resource post',
      method: 'POST',
      url: `${s}/resources`,
      body: { resource_id: 'a1b2c3', resource_type: 'gateway-policy', resource_account_id: OWNER, meta: {} },
    },
    { name: 'resource get', method: 'GET', url: `${s}/resources/${S.resourceId}` },
    { name: 'resource put', method: 'PUT', url: `${s}/resources/${S.resourceId}`, body: { meta: { x: 1 } } },
    { name: 'resource delete', method: 'DELETE', url: `${s}/resources/${S.resourceId}` },
    { name: 'excluded list', method: 'GET', url: `${o}/excluded-recipients` },
    { name: 'excluded post', method: 'POST', url: `${o}/excluded-recipients`, body: { account_id: R2 } },
    { name: 'excluded put', method: 'PUT', url: `${o}/excluded-recipients`, body: [{ account_id: R2 }] },
    { name: 'excluded get', method: 'GET', url: `${o}/excluded-recipients/${O.exclusionId}` },
    { name: 'excluded delete', method: 'DELETE', url: `${o}/excluded-recipients/${O.exclusionId}` },
  ];
}

const isWrite = (r: Route) => r.method !== 'GET';

/** The raw answer, for byte-level comparisons. */
async function raw(route: Route, token: string) {
  const res = await h.app.inject({
    method: route.method,
    url: route.url,
    headers: { authorization: `Bearer ${token}` },
    ...(route.body === undefined ? {} : { payload: route.body as InjectOptions['payload'] }),
  });
  return { status: res.statusCode, type: res.headers['content-type'], body: res.body };
}

/** Everything the owner can see of S and O, to prove a refused request changed nothing. */
async function snapshot() {
  const get = async (url: string) => (await call(h.app, 'GET', url)).body;
  return {
    shares: await get(`${base()}?include_resources=true&include_recipient_counts=true&per_page=100`),
    recipients: await get(`${base()}/${S.id}/recipients?include_resources=true`),
    resources: await get(`${base()}/${S.id}/resources`),
    excluded: await get(`${base()}/${O.id}/excluded-recipients`),
  };
}

before(async () => {
  h = await setup();
  const share = (await call(h.app, 'POST', base(), { body: seedShareBody() })).body.result;
  const recipients = (await call(h.app, 'GET', `${base()}/${share.id}/recipients`)).body.result;
  const resources = (await call(h.app, 'GET', `${base()}/${share.id}/resources`)).body.result;
  S = { id: share.id, recipientId: recipients[0].id, resourceId: resources[0].id };
  const org = (
    await call(h.app, 'POST', base(), {
      body: { name: 'Org-wide', recipients: [{ organization_id: ORG }], resources: [] },
    })
  ).body.result;
  const exclusion = (
    await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, { body: { account_id: R1 } })
  ).body.result;
  O = { id: org.id, exclusionId: exclusion.id };
  assert.equal(objectRoutes(OWNER).length, 18);
});
after(async () => {
  await h.close();
});

describe('authentication', () => {
  test('given no credentials, when listing shares, then 400 9106', async () => {
    assertError(await call(h.app, 'GET', base(), { token: null }), 400, 9106, MISSING);
  });

  test('given an unknown bearer token, when listing shares, then 400 1000 "Invalid API Token"', async () => {
    assertError(
      await call(h.app, 'GET', base(), { token: 'not-a-real-token' }),
      400,
      1000,
      'Invalid API Token',
    );
  });

  test('given an Authorization header that is not Bearer <token>, when listing shares, then 400 6003 with error_chain 6111', async () => {
    const malformed = [
      'Basic b3duZXI6c2VjcmV0',
      'Bearer',
      'Bearer ',
      `Bearer ${TOKENS.owner} extra`,
      `Token ${TOKENS.owner}`,
      'Bearer t\u00f6ken-with-a-latin1-letter',
      `Bearer ${'a'.repeat(513)}`,
    ];
    for (const authorization of malformed) {
      const res = await call(h.app, 'GET', base(), { token: null, headers: { authorization } });
      assertErrors(res, 400, headerErrors(BAD_AUTHORIZATION));
    }
  });

  test('given a malformed Authorization header beside a valid email and key, when listing shares, then the Authorization header decides: 400 6111', async () => {
    const headers = { ...userHeaders, authorization: 'Basic b3duZXI6c2VjcmV0' };
    await assertHeadersRefused(headers, BAD_AUTHORIZATION);
  });

  test('given well-formed tokens of every shape rshare or Cloudflare issues that match nothing, when listing shares, then 400 1000 as before', async () => {
    const shapes = [
      'A'.repeat(40),
      `cfut_${'a1B2_-'.repeat(8)}`,
      `cfat_${'Z9y8-_'.repeat(8)}`,
      'short',
      'x'.repeat(512),
      'sym!#$%&\'*+.^_`|~:=/?@[]{}<>"(),;\\',
    ];
    for (const token of shapes) {
      assertError(await call(h.app, 'GET', base(), { token }), 400, 1000, 'Invalid API Token');
    }
  });

  test('given tokens an operator may already have written (any visible ASCII, up to 512 characters) and a lowercase scheme, when listing shares, then they keep working', async () => {
    const values = ['bootstrap!#$%&\'*+.^_`|~:=/?@[]{}<>"(),;\\', 'ab', 'y'.repeat(512)];
    for (const [i, value] of values.entries()) {
      await addToken(h, 0x70 + i, value, OWNER, { name: `legacy-${i}`, can_edit: false });
      assert.equal((await call(h.app, 'GET', base(), { token: value })).status, 200, value);
    }
    const lower = await call(h.app, 'GET', base(), {
      token: null,
      headers: { authorization: `bearer ${TOKENS.owner}` },
    });
    assert.equal(lower.status, 200);
  });

  test('given a disabled token, when listing shares, then 400 1000', async () => {
    assertError(await call(h.app, 'GET', base(), { token: TOKENS.disabled }), 400, 1000, 'Invalid API Token');
  });

  test('given an expired token, when listing shares, then 400 1000', async () => {
    assertError(await call(h.app, 'GET', base(), { token: TOKENS.expired }), 400, 1000, 'Invalid API Token');
  });

  test('given a token expiring later, when time passes its expiry, then it works before and answers 1000 after', async () => {
    const secret = 'soon-expiring-token-secret-0010';
    const expires = new Date(h.clock.now() + 60_000).toISOString();
    await addToken(h, 10, secret, OWNER, { can_edit: false, expires_on: expires });
    assert.equal((await call(h.app, 'GET', base(), { token: secret })).status, 200);
    h.clock.advance(60_000);
    assertError(await call(h.app, 'GET', base(), { token: secret }), 400, 1000, 'Invalid API Token');
  });

  test('given the email and global key of a user, when listing and creating shares, then both succeed', async () => {
    const list = await call(h.app, 'GET', `${base()}?per_page=100`, { token: null, headers: userHeaders });
    assert.equal(list.status, 200);
    assert.ok(list.body.result.some((s: { id: string }) => s.id === S.id));
    const created = await call(h.app, 'POST', base(), {
      token: null,
      headers: userHeaders,
      body: { ...seedShareBody(R2), name: 'Made with a global key' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.result.name, 'Made with a global key');
    assert.equal(created.body.result.account_id, OWNER);
    const upper = await call(h.app, 'GET', base(), {
      token: null,
      headers: { ...userHeaders, 'x-auth-email': USER.email.toUpperCase() },
    });
    assert.equal(upper.status, 200);
  });

  test('given a wrong key, an unknown email or only one of the two headers, when listing shares, then 403 9103', async () => {
    const cases: Record<string, string>[] = [
      { 'x-auth-email': USER.email, 'x-auth-key': 'wrong-key' },
      { 'x-auth-email': 'nobody@acme.test', 'x-auth-key': USER.key },
      { 'x-auth-email': USER.email },
      { 'x-auth-key': USER.key },
      // Cloudflare's own key shape (37 hex digits): well formed, matching nothing.
      { 'x-auth-email': USER.email, 'x-auth-key': 'c2547eb745079dac9320b638f5e225cf483cc' },
    ];
    for (const headers of cases) {
      assertError(await call(h.app, 'GET', base(), { token: null, headers }), 403, 9103, UNKNOWN_KEY);
    }
  });

  test('given an X-Auth-Email that is no address, when listing shares, then 400 6003 with error_chain 6102', async () => {
    for (const email of [
      '',
      'not-an-address',
      'owner@acme',
      'two words@acme.test',
      `${'a'.repeat(250)}@acme.test`,
    ]) {
      const headers = { 'x-auth-email': email, 'x-auth-key': USER.key };
      await assertHeadersRefused(headers, BAD_EMAIL);
    }
    const alone = { 'x-auth-email': 'not-an-address' };
    await assertHeadersRefused(alone, BAD_EMAIL);
  });

  test('given an X-Auth-Key no key can be, when listing shares, then 400 6003 with error_chain 6103', async () => {
    for (const key of ['', 'has a space', 'k\u00e9y-latin1', 'k'.repeat(513)]) {
      const headers = { 'x-auth-email': USER.email, 'x-auth-key': key };
      await assertHeadersRefused(headers, BAD_KEY);
    }
    const alone = { 'x-auth-key': 'has a space' };
    await assertHeadersRefused(alone, BAD_KEY);
  });

  test('given both X-Auth headers malformed, when listing shares, then 400 6003 naming both, email first', async () => {
    const headers = { 'x-auth-email': 'nobody', 'x-auth-key': 'has a space' };
    await assertHeadersRefused(headers, BAD_EMAIL, BAD_KEY);
  });

  test('given a malformed header on a change, when creating a share, then 400 6003 and nothing is created', async () => {
    const before = (await call(h.app, 'GET', base())).body.result_info.total_count;
    const res = await call(h.app, 'POST', base(), {
      token: null,
      headers: { authorization: `Bearer ${TOKENS.owner} extra` },
      body: seedShareBody(R2),
    });
    assertErrors(res, 400, headerErrors(BAD_AUTHORIZATION));
    assert.equal((await call(h.app, 'GET', base())).body.result_info.total_count, before);
  });
});

describe('every served API route', () => {
  /** (method, concrete URL, route pattern) for every API route the app serves, under /client/v4 and at the root. */
  function apiRoutes(): { method: Route['method']; url: string; pattern: string }[] {
    const values: Record<string, string> = {
      account_id: OWNER,
      organization_id: ORG,
      share_id: S.id,
      recipient_id: S.recipientId,
      share_resource_id: S.resourceId,
      excluded_recipient_id: O.exclusionId,
    };
    // Probes, metrics, the OpenAPI document and the docs page need no credentials.
    const open = ['/healthz', '/readyz', '/metrics', '/client/v4/openapi.json'];
    return [...servedRoutes(h.app.printRoutes({ commonPrefix: false }))]
      .map((r) => r.split(' ') as [Route['method'], string])
      .filter(
        ([method, pattern]) => method !== 'HEAD' && !open.includes(pattern) && !pattern.startsWith('/docs'),
      )
      .flatMap(([method, pattern]) => {
        const url = pattern.replace(/:(\w+)/g, (_m, name: string) => values[name] ?? UNKNOWN);
        return [
          { method, pattern, url },
          { method, pattern: `${pattern} (root)`, url: url.replace(/^\/client\/v4/, '') },
        ];
      });
  }

  test('given no credentials, when calling every API route the app serves, then each answers 400 9106', async () => {
    const routes = apiRoutes();
    assert.ok(routes.length >= 2 * 23, `only ${routes.length} routes found`);
    for (const r of routes) {
      const res = await call(h.app, r.method, r.url, { token: null });
      assert.equal(res.status, 400, `${r.method} ${r.pattern}: ${JSON.stringify(res.body)}`);
      assertError(res, 400, 9106, MISSING);
    }
  });

  test("given the stranger's token, when calling every account or organization route with OWNER's account or ORG in the path, then 404 for object routes and 403 10000 for the rest", async () => {
    const before = await snapshot();
    const routes = apiRoutes().filter(
      (r) => r.pattern.includes(':account_id') || r.pattern.includes(':organization_id'),
    );
    for (const r of nonEmpty(routes, 'account or organization routes')) {
      const res = await call(h.app, r.method, r.url, { token: TOKENS.stranger });
      const label = `${r.method} ${r.pattern}: ${JSON.stringify(res.body)}`;
      if (r.pattern.includes(':share_id')) {
        assert.equal(res.status, 404, label);
        assertError(res, 404, 1404, 'Share not found');
      } else {
        assert.equal(res.status, 403, label);
        assertError(res, 403, 10000, 'Authentication error');
      }
    }
    assert.deepEqual(await snapshot(), before);
  });
});

describe('read-only tokens', () => {
  const writes = (): Route[] => [
    { name: 'share create', method: 'POST', url: base(), body: seedShareBody() },
    ...objectRoutes(OWNER).filter(isWrite),
  ];

  test('given a read-only token, when calling each of the 12 change operations, then 403 10000 and nothing changes', async () => {
    const before = await snapshot();
    const routes = writes();
    assert.equal(routes.length, 12);
    for (const r of routes) {
      const res = await call(h.app, r.method, r.url, { token: TOKENS.ownerRead, body: r.body });
      assert.equal(res.status, 403, `${r.name}: ${JSON.stringify(res.body)}`);
      assertError(res, 403, 10000, 'Authentication error');
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('given a read-only token, when calling each of the 9 read operations, then 200', async () => {
    const reads = objectRoutes(OWNER).filter((r) => !isWrite(r));
    reads.push({ name: 'shares list', method: 'GET', url: base() });
    assert.equal(reads.length, 8);
    for (const r of reads) {
      const res = await call(h.app, r.method, r.url, { token: TOKENS.ownerRead });
      assert.equal(res.status, 200, `${r.name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, true);
    }
    const org = await call(h.app, 'GET', `/client/v4/organizations/${ORG}/shares`, { token: TOKENS.org });
    assert.equal(org.status, 200);
    assert.ok(org.body.result.some((s: { id: string }) => s.id === O.id));
  });
});

describe('tenant isolation', () => {
  test('given the stranger\'s token, when calling every object route of OWNER\'s shares with OWNER in the path, then 404 "Share not found" and nothing changes', async () => {
    const before = await snapshot();
    for (const r of objectRoutes(OWNER)) {
      const res = await call(h.app, r.method, r.url, { token: TOKENS.stranger, body: r.body });
      assert.equal(res.status, 404, `${r.name}: ${JSON.stringify(res.body)}`);
      assertError(res, 404, 1404, 'Share not found');
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('given the stranger\'s token, when calling every object route of OWNER\'s shares with its own account in the path, then 404 "Share not found" and nothing changes', async () => {
    const before = await snapshot();
    for (const r of objectRoutes(STRANGER)) {
      const res = await call(h.app, r.method, r.url, { token: TOKENS.stranger, body: r.body });
      assert.equal(res.status, 404, `${r.name}: ${JSON.stringify(res.body)}`);
      assertError(res, 404, 1404, 'Share not found');
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('given the stranger, when comparing answers for an existing and a non-existent share id, then they are byte-identical on every object route', async () => {
    for (const account of [OWNER, STRANGER]) {
      const existing = objectRoutes(account);
      const unknown = objectRoutes(account, UNKNOWN, UNKNOWN);
      for (const [i, r] of existing.entries()) {
        const a = await raw(r, TOKENS.stranger);
        const b = await raw(unknown[i] as Route, TOKENS.stranger);
        assert.deepEqual(a, b, `${r.name} with ${account === OWNER ? 'OWNER' : 'STRANGER'} in the path`);
        assert.equal(a.status, 404);
      }
    }
  });

  test("given the stranger's token, when listing or creating under OWNER's account or listing OWNER's organization, then 403 10000 and nothing is created", async () => {
    const before = await snapshot();
    assertError(
      await call(h.app, 'GET', base(), { token: TOKENS.stranger }),
      403,
      10000,
      'Authentication error',
    );
    assertError(
      await call(h.app, 'POST', base(), { token: TOKENS.stranger, body: seedShareBody() }),
      403,
      10000,
      'Authentication error',
    );
    assertError(
      await call(h.app, 'GET', `/client/v4/organizations/${ORG}/shares`, { token: TOKENS.stranger }),
      403,
      10000,
      'Authentication error',
    );
    assert.deepEqual(await snapshot(), before);
  });

  test("given the stranger's token, when listing its own account, then none of OWNER's shares appear", async () => {
    const res = await call(h.app, 'GET', base(STRANGER), { token: TOKENS.stranger });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.result, []);
    assert.equal(res.body.result_info.total_count, 0);
  });

  test('given R1 (a recipient of S), when reading S through its own account, then it sees the share, but every owner-only route answers 404 "Share not found"', async () => {
    const seen = await call(h.app, 'GET', `${base(R1)}/${S.id}`, { token: TOKENS.r1 });
    assert.equal(seen.status, 200);
    assert.equal(seen.body.result.kind, 'received');
    const before = await snapshot();
    const ownerOnly = objectRoutes(R1).filter(
      (r) => isWrite(r) || r.url.includes('/recipients') || r.url.includes('/excluded-recipients'),
    );
    assert.equal(ownerOnly.length, 15);
    for (const r of ownerOnly) {
      const res = await call(h.app, r.method, r.url, { token: TOKENS.r1, body: r.body });
      assert.equal(res.status, 404, `${r.name}: ${JSON.stringify(res.body)}`);
      assertError(res, 404, 1404, 'Share not found');
    }
    assert.deepEqual(await snapshot(), before);
  });
});

describe('tokens/verify', () => {
  const valid = (id: string, extra: Record<string, string> = {}) => ({
    success: true,
    errors: [],
    messages: [{ code: 10000, message: 'This API Token is valid and active', type: null }],
    result: { id, status: 'active', ...extra },
  });

  test('given a valid token, when verifying at /user/tokens/verify and /accounts/{id}/tokens/verify, then the token is described as active', async () => {
    const user = await call(h.app, 'GET', '/client/v4/user/tokens/verify');
    assert.equal(user.status, 200);
    assert.deepEqual(user.body, valid(hexId(1, 'c')));
    const account = await call(h.app, 'GET', `/client/v4/accounts/${OWNER}/tokens/verify`, {
      token: TOKENS.ownerRead,
    });
    assert.equal(account.status, 200);
    assert.deepEqual(account.body, valid(hexId(2, 'c')));
  });

  test('given a token with an expiry, when verifying, then the answer carries expires_on', async () => {
    const secret = 'verify-expiring-token-secret11';
    const expires_on = '2030-01-01T00:00:00Z';
    await addToken(h, 11, secret, OWNER, { expires_on });
    const res = await call(h.app, 'GET', '/client/v4/user/tokens/verify', { token: secret });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, valid(hexId(11, 'c'), { expires_on }));
  });

  test('given an email and global key, when verifying a token, then 400 1000 (there is no token to verify)', async () => {
    for (const url of ['/client/v4/user/tokens/verify', `/client/v4/accounts/${OWNER}/tokens/verify`]) {
      assertError(
        await call(h.app, 'GET', url, { token: null, headers: userHeaders }),
        400,
        1000,
        'Invalid API Token',
      );
    }
  });

  test('given a disabled, expired or unknown token, when verifying at either tokens/verify, then 401 1000; none is 400 9106', async () => {
    for (const url of ['/client/v4/user/tokens/verify', `/client/v4/accounts/${OWNER}/tokens/verify`]) {
      for (const token of [TOKENS.disabled, TOKENS.expired, 'nope']) {
        assertError(await call(h.app, 'GET', url, { token }), 401, 1000, 'Invalid API Token');
      }
      assertError(await call(h.app, 'GET', url, { token: null }), 400, 9106, MISSING);
      const malformed = { authorization: 'Bearer' };
      assertErrors(
        await call(h.app, 'GET', url, { token: null, headers: malformed }),
        400,
        headerErrors(BAD_AUTHORIZATION),
      );
    }
  });

  test("given a valid token, when verifying at another account's tokens/verify, then 403 10000", async () => {
    assertError(
      await call(h.app, 'GET', `/client/v4/accounts/${STRANGER}/tokens/verify`),
      403,
      10000,
      'Authentication error',
    );
  });
});

describe('routing and operational endpoints', () => {
  test('given an unknown path, when calling it with or without credentials, then 404 7003 "No route for the URI"', async () => {
    assertNoRoute(await call(h.app, 'GET', '/client/v4/nope'));
    assertNoRoute(await call(h.app, 'GET', '/client/v4/nope', { token: null }));
    assertNoRoute(await call(h.app, 'GET', '/client/v5/user/tokens/verify'));
  });

  test('given any request, when answered, then it carries an x-request-id (a fresh UUID, or the one the client sent)', async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const answers = [
      await call(h.app, 'GET', base()),
      await call(h.app, 'GET', base(), { token: null }),
      await call(h.app, 'GET', `${base()}/${UNKNOWN}`),
      await call(h.app, 'GET', '/client/v4/nope'),
      await call(h.app, 'GET', '/healthz', { token: null }),
    ];
    const ids = answers.map((r) => String(r.headers['x-request-id']));
    for (const id of ids) assert.match(id, uuid);
    assert.equal(new Set(ids).size, ids.length);
    const echoed = await call(h.app, 'GET', base(), { headers: { 'x-request-id': 'client-trace-42' } });
    assert.equal(echoed.headers['x-request-id'], 'client-trace-42');
  });

  test('given the root prefix (no /client/v4), when calling the same routes, then they answer the same, authentication included', async () => {
    const prefixed = await call(h.app, 'GET', `${base()}/${S.id}?include_resources=true`);
    const root = await call(h.app, 'GET', `/accounts/${OWNER}/shares/${S.id}?include_resources=true`);
    assert.equal(root.status, 200);
    assert.deepEqual(root.body, prefixed.body);
    const created = await call(h.app, 'POST', `/accounts/${OWNER}/shares`, {
      body: { ...seedShareBody(R2), name: 'At the root' },
    });
    assert.equal(created.status, 201);
    assert.equal(
      (await call(h.app, 'GET', `${base()}/${created.body.result.id}`)).body.result.name,
      'At the root',
    );
    assert.deepEqual(
      (await call(h.app, 'GET', '/user/tokens/verify')).body,
      (await call(h.app, 'GET', '/client/v4/user/tokens/verify')).body,
    );
    assertError(await call(h.app, 'GET', `/accounts/${OWNER}/shares`, { token: null }), 400, 9106, MISSING);
    assertError(
      await call(h.app, 'GET', `/accounts/${OWNER}/shares/${S.id}`, { token: TOKENS.stranger }),
      404,
      1404,
      'Share not found',
    );
  });

  test('given a malformed percent-encoding or an over-long path segment, when routing fails, then 400 1400 in the envelope with an x-request-id', async () => {
    const bad = await call(h.app, 'GET', '/client/v4/accounts/%zz/shares');
    assertError(bad, 400, 1400, 'The URL is not valid (malformed percent-encoding)');
    assert.ok(bad.headers['x-request-id']);
    // Outside Cloudflare's API root (rshare serves it at / too) an over-long segment is no id question.
    const long = await call(h.app, 'GET', `/accounts/${OWNER}/shares/${'f'.repeat(101)}`);
    assertError(long, 400, 1400, 'A path parameter is too long');
    assert.ok(long.headers['x-request-id']);
  });

  test('given Content-Type application/json and an empty body, when deleting (a route without a body), then the delete succeeds', async () => {
    const share = (
      await call(h.app, 'POST', base(), { body: { ...seedShareBody(R2), name: 'Bodiless delete' } })
    ).body.result;
    const res = await call(h.app, 'DELETE', `${base()}/${share.id}`, {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.result.status, 'deleting');
  });

  test('given Content-Type application/json and an empty body, when creating (a route with a body), then 400 "Request body is required"', async () => {
    assertError(
      await call(h.app, 'POST', base(), { headers: { 'content-type': 'application/json' } }),
      400,
      1400,
      'Request body is required',
      '',
    );
  });

  test('given no credentials, when probing /healthz and /readyz, then both answer 200', async () => {
    const health = await call(h.app, 'GET', '/healthz', { token: null });
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    const ready = await call(h.app, 'GET', '/readyz', { token: null });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
    assert.equal((await call(h.app, 'GET', '/healthz', { token: 'garbage' })).status, 200);
  });
});
