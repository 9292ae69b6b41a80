import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Cloudflare from 'cloudflare';
import {
  call,
  base,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  R3,
  seedShareBody,
  setup,
  TOKENS,
  USER,
  type Harness,
  type Reply,
} from './helpers.js';
import { assertOnePage } from './support/assert.js';

type CreateParams = Cloudflare.ResourceSharing.ResourceSharingCreateParams;

const UNKNOWN = hexId(0xcafe, 'f');

let h: Harness;
let origin: string;
let baseURL: string;
/** HTTP requests the server received, counted at the socket level (independent of the SDK). */
let requests = 0;

/** An SDK client as a real caller configures it; env credentials are ignored so only `apiToken` is sent. */
function client(
  apiToken: string = TOKENS.owner,
  extra: Partial<ConstructorParameters<typeof Cloudflare>[0]> = {},
) {
  return new Cloudflare({ apiToken, apiKey: null, apiEmail: null, baseURL, maxRetries: 0, ...extra });
}

/** The seed example "Create a new share", typed for the SDK. */
const seedParams = (recipient = R1): CreateParams => ({
  account_id: OWNER,
  ...(seedShareBody(recipient) as Omit<CreateParams, 'account_id'>),
});

/** Raw HTTP for what the SDK does not cover (excluded recipients, organization shares). */
async function http(method: string, path: string, body?: unknown, token: string = TOKENS.owner) {
  const res = await fetch(`${baseURL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json: Reply['body'] = text === '' ? undefined : JSON.parse(text);
  return { status: res.status, headers: res.headers, text, body: json };
}

/** Runs `fn`, returning the error it rejects with. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

before(async () => {
  h = await setup();
  h.app.server.on('request', () => {
    requests += 1;
  });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = h.app.server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  baseURL = `${origin}/client/v4`;
});
after(async () => {
  await h.close();
});

describe('shares through the SDK', () => {
  test('given the seed example, when creating, getting, updating and deleting through the SDK, then each answer is unwrapped and delete reports deleting', async () => {
    const cf = client();
    const created = await cf.resourceSharing.create(seedParams());
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.equal(created.name, 'My Shared WAF Managed Rule');
    assert.equal(created.account_id, OWNER);
    assert.equal(created.account_name, 'Acme Owner');
    assert.equal(created.organization_id, ORG);
    assert.equal(created.status, 'active');
    assert.equal(created.target_type, 'account');
    assert.equal(created.kind, 'sent');

    const got = await cf.resourceSharing.get(created.id, { account_id: OWNER, include_resources: true });
    assert.equal(got.id, created.id);
    assert.equal(got.resources?.length, 1);
    assert.deepEqual(
      { ...got.resources?.[0], id: undefined, created: undefined, modified: undefined },
      {
        ...seedShareBody().resources[0],
        id: undefined,
        status: 'active',
        resource_version: 1,
        created: undefined,
        modified: undefined,
      },
    );
    const counted = await cf.resourceSharing.get(created.id, {
      account_id: OWNER,
      include_recipient_counts: true,
    });
    assert.equal(counted.associating_recipient_count, 1);
    assert.equal(counted.resources, undefined);

    const updated = await cf.resourceSharing.update(created.id, {
      account_id: OWNER,
      name: 'Renamed via SDK',
    });
    assert.equal(updated.name, 'Renamed via SDK');
    assert.equal((await cf.resourceSharing.get(created.id, { account_id: OWNER })).name, 'Renamed via SDK');

    const deleted = await cf.resourceSharing.delete(created.id, { account_id: OWNER });
    assert.equal(deleted.id, created.id);
    assert.equal(deleted.status, 'deleting');
    assert.equal((await cf.resourceSharing.get(created.id, { account_id: OWNER })).status, 'deleting');
  });

  test('given a share sent to R1, when R1 lists and gets through the SDK with its own token, then it sees it as received', async () => {
    const created = await client().resourceSharing.create({ ...seedParams(), name: 'For R1' });
    const r1 = client(TOKENS.r1);
    const received = [];
    for await (const s of r1.resourceSharing.list({ account_id: R1, kind: 'received' })) received.push(s);
    const mine = received.find((s) => s.id === created.id);
    assert.equal(mine?.kind, 'received');
    assert.equal(mine?.account_id, OWNER);
    const got = await r1.resourceSharing.get(created.id, { account_id: R1, include_resources: true });
    assert.equal(got.kind, 'received');
    assert.equal(got.resources?.length, 1);
  });

  test('given the email and global key of a user, when the SDK authenticates with them, then it lists the shares', async () => {
    const cf = new Cloudflare({
      apiEmail: USER.email,
      apiKey: USER.key,
      apiToken: null,
      baseURL,
      maxRetries: 0,
    });
    const page = await cf.resourceSharing.list({ account_id: OWNER, per_page: 1 });
    assert.equal(page.result.length, 1);
    assert.equal(page.result[0]?.account_id, OWNER);
  });
});

describe('auto-pagination through the SDK', () => {
  const ids: string[] = [];

  before(async () => {
    for (let i = 0; i < 45; i++) {
      const res = await call(h.app, 'POST', base(), {
        body: { ...seedShareBody(), name: `page-${String(i).padStart(2, '0')}`, tags: { batch: 'pager' } },
      });
      assert.equal(res.status, 201);
      ids.push(res.body.result.id);
    }
  });

  test('given 45 shares, when auto-paginating without per_page, then each is yielded exactly once in creation order, in 4 requests', async () => {
    const seen: string[] = [];
    const start = requests;
    for await (const s of client().resourceSharing.list({ account_id: OWNER, tag: ['batch=pager'] }))
      seen.push(s.id);
    assert.deepEqual(seen, ids);
    // Pages of 20, 20 and 5, then an empty page that ends the iteration.
    assert.equal(requests - start, 4);
  });

  test('given 45 shares, when auto-paginating with per_page 10, then each is yielded exactly once, in 6 requests', async () => {
    const seen: string[] = [];
    const start = requests;
    for await (const s of client().resourceSharing.list({
      account_id: OWNER,
      tag: ['batch=pager'],
      per_page: 10,
    })) {
      seen.push(s.id);
    }
    assert.deepEqual(seen, ids);
    assert.equal(new Set(seen).size, 45);
    assert.equal(requests - start, 6);
  });

  test('given 45 shares, when reading one page by hand, then result_info describes it', async () => {
    const page = await client().resourceSharing.list({
      account_id: OWNER,
      tag: ['batch=pager'],
      page: 3,
      per_page: 20,
    });
    assert.deepEqual(
      page.result.map((s) => s.id),
      ids.slice(40),
    );
    assert.deepEqual(page.result_info, { page: 3, per_page: 20, count: 5, total_count: 45, total_pages: 3 });
    assert.equal(page.hasNextPage(), true);
    const last = await page.getNextPage();
    assert.deepEqual(last.result, []);
  });
});

describe('recipients and resources through the SDK', () => {
  test('given a share, when managing recipients through the SDK, then create, list, get and delete round-trip', async () => {
    const cf = client();
    const share = await cf.resourceSharing.create({ ...seedParams(), name: 'Recipients via SDK' });
    const added = await cf.resourceSharing.recipients.create(share.id, {
      path_account_id: OWNER,
      recipient_account_id: R2,
    });
    assert.equal(added.account_id, R2);
    assert.equal(added.association_status, 'associating');

    const listed = [];
    for await (const r of cf.resourceSharing.recipients.list(share.id, { account_id: OWNER })) listed.push(r);
    assert.deepEqual(listed.map((r) => r.account_id).sort(), [R1, R2].sort());

    const got = await cf.resourceSharing.recipients.get(added.id, {
      account_id: OWNER,
      share_id: share.id,
      include_resources: true,
    });
    assert.equal(got.id, added.id);
    assert.deepEqual(got.resources, []);

    const removed = await cf.resourceSharing.recipients.delete(added.id, {
      account_id: OWNER,
      share_id: share.id,
    });
    assert.equal(removed.id, added.id);
    assert.equal(removed.association_status, 'disassociating');
    const again = await cf.resourceSharing.recipients.get(added.id, {
      account_id: OWNER,
      share_id: share.id,
    });
    assert.equal(again.association_status, 'disassociating');
  });

  test('given a share, when managing resources through the SDK, then create, list, get, update and delete round-trip', async () => {
    const cf = client();
    const share = await cf.resourceSharing.create({ ...seedParams(), name: 'Resources via SDK' });
    const created = await cf.resourceSharing.resources.create(share.id, {
      account_id: OWNER,
      resource_id: '5c1b7f2e9a4d4e3fb6a8c0d2e4f6a8b0',
      resource_type: 'gateway-policy',
      resource_account_id: OWNER,
      meta: { precedence: 1 },
    });
    assert.equal(created.resource_type, 'gateway-policy');
    assert.equal(created.status, 'active');
    assert.deepEqual(created.meta, { precedence: 1 });

    const listed = [];
    for await (const r of cf.resourceSharing.resources.list(share.id, { account_id: OWNER })) listed.push(r);
    assert.deepEqual(listed.map((r) => r.resource_type).sort(), ['custom-ruleset', 'gateway-policy']);
    const filtered = await cf.resourceSharing.resources.list(share.id, {
      account_id: OWNER,
      resource_type: 'gateway-policy',
    });
    assert.deepEqual(
      filtered.result.map((r) => r.id),
      [created.id],
    );

    const got = await cf.resourceSharing.resources.get(created.id, { account_id: OWNER, share_id: share.id });
    assert.deepEqual(got, created);

    const updated = await cf.resourceSharing.resources.update(created.id, {
      account_id: OWNER,
      share_id: share.id,
      meta: { precedence: 2, note: 'tuned' },
    });
    assert.deepEqual(updated.meta, { precedence: 2, note: 'tuned' });

    const deleted = await cf.resourceSharing.resources.delete(created.id, {
      account_id: OWNER,
      share_id: share.id,
    });
    assert.equal(deleted.id, created.id);
    assert.equal(deleted.status, 'deleting');
  });
});

describe('SDK errors', () => {
  test('given an unknown share, when getting it through the SDK, then it throws Cloudflare.NotFoundError carrying the envelope errors', async () => {
    const err = await rejection(() => client().resourceSharing.get(UNKNOWN, { account_id: OWNER }));
    assert.ok(err instanceof Cloudflare.NotFoundError, String(err));
    assert.equal(err.status, 404);
    assert.deepEqual(err.errors, [{ code: 1404, message: 'Share not found' }]);
    assert.match(err.message, /^404 /);
  });

  test('given a share being deleted, when deleting it again with retries enabled, then the SDK gets a ConflictError after exactly one request', async () => {
    const cf = client(TOKENS.owner, { maxRetries: 2 });
    const share = await cf.resourceSharing.create({ ...seedParams(), name: 'Delete twice' });
    await cf.resourceSharing.delete(share.id, { account_id: OWNER });
    const start = requests;
    const err = await rejection(() => cf.resourceSharing.delete(share.id, { account_id: OWNER }));
    assert.equal(requests - start, 1);
    assert.ok(err instanceof Cloudflare.ConflictError, String(err));
    assert.equal(err.status, 409);
    assert.equal(err.headers.get('x-should-retry'), 'false');
    assert.deepEqual(err.errors, [
      { code: 1409, message: 'The share is deleting and can no longer be changed' },
    ]);
  });

  test('given the same 409 without x-should-retry, when the SDK calls with retries enabled, then it would retry (control for the test above)', async () => {
    const stripping: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const headers = new Headers(res.headers);
      headers.delete('x-should-retry');
      headers.set('retry-after-ms', '0');
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };
    const cf = client(TOKENS.owner, { maxRetries: 2, fetch: stripping });
    const share = await cf.resourceSharing.create({ ...seedParams(), name: 'Control' });
    await cf.resourceSharing.delete(share.id, { account_id: OWNER });
    const start = requests;
    const err = await rejection(() => cf.resourceSharing.delete(share.id, { account_id: OWNER }));
    assert.ok(err instanceof Cloudflare.ConflictError, String(err));
    assert.equal(requests - start, 3);
  });

  test('given an empty name, when creating through the SDK, then it throws BadRequestError with code, message and pointer', async () => {
    const err = await rejection(() =>
      client().resourceSharing.create({ account_id: OWNER, name: '', recipients: [], resources: [] }),
    );
    assert.ok(err instanceof Cloudflare.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.deepEqual(err.errors, [
      { code: 1400, message: 'name must not be empty', source: { pointer: '/name' } },
    ]);
  });

  test('given a recipient outside the organization, when adding it through the SDK, then BadRequestError points at recipient_account_id', async () => {
    const cf = client();
    const share = await cf.resourceSharing.create({ ...seedParams(), name: 'Outsider' });
    const stranger = hexId(5, 'b');
    const err = await rejection(() =>
      cf.resourceSharing.recipients.create(share.id, {
        path_account_id: OWNER,
        recipient_account_id: stranger,
      }),
    );
    assert.ok(err instanceof Cloudflare.BadRequestError, String(err));
    assert.deepEqual(err.errors, [
      {
        code: 1400,
        message: `Account ${stranger} is not a member of the share owner's organization`,
        source: { pointer: '/recipient_account_id' },
      },
    ]);
  });

  test('given a read-only token or an invalid token, when creating through the SDK, then PermissionDeniedError 10000 / BadRequestError 1000', async () => {
    const denied = await rejection(() => client(TOKENS.ownerRead).resourceSharing.create(seedParams()));
    assert.ok(denied instanceof Cloudflare.PermissionDeniedError, String(denied));
    assert.deepEqual(denied.errors, [{ code: 10000, message: 'Authentication error' }]);
    const invalid = await rejection(() => client('not-a-token').resourceSharing.create(seedParams()));
    assert.ok(invalid instanceof Cloudflare.BadRequestError, String(invalid));
    assert.deepEqual(invalid.errors, [{ code: 1000, message: 'Invalid API Token' }]);
  });
});

describe('over plain HTTP', () => {
  test('given an organization share, when managing excluded recipients with fetch, then create, list, get, replace (204) and delete work', async () => {
    const org = await client().resourceSharing.create({
      account_id: OWNER,
      name: 'Org via SDK',
      recipients: [{ organization_id: ORG }],
      resources: [],
    });
    assert.equal(org.target_type, 'organization');
    const path = `/accounts/${OWNER}/shares/${org.id}/excluded-recipients`;

    const created = await http('POST', path, { account_id: R1 });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.result.account_id, R1);
    const id = created.body.result.id as string;

    const listed = await http('GET', path);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.result, [created.body.result]);
    assertOnePage(listed, 1);

    const got = await http('GET', `${path}/${id}`);
    assert.deepEqual(got.body.result, created.body.result);

    const replaced = await http('PUT', path, [{ account_id: R2 }, { account_id: R3 }]);
    assert.equal(replaced.status, 204);
    assert.equal(replaced.text, '');
    const after = await http('GET', path);
    assert.deepEqual(
      after.body.result.map((e: { account_id: string }) => e.account_id).sort(),
      [R2, R3].sort(),
    );

    const gone = after.body.result[0] as { id: string; account_id: string };
    const deleted = await http('DELETE', `${path}/${gone.id}`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.result.id, gone.id);
    assert.equal((await http('GET', path)).body.result.length, 1);

    const missing = await http('GET', `${path}/${UNKNOWN}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body.errors, [{ code: 1404, message: 'Share excluded recipient not found' }]);
  });

  test('given an organization token, when listing the organization shares with fetch, then the organization-targeted share is listed', async () => {
    const org = await client().resourceSharing.create({
      account_id: OWNER,
      name: 'Org listed',
      recipients: [{ organization_id: ORG }],
      resources: [],
    });
    const res = await http(
      'GET',
      `/organizations/${ORG}/shares?target_type=organization&per_page=100`,
      undefined,
      TOKENS.org,
    );
    assert.equal(res.status, 200, res.text);
    const listed = res.body.result.find((s: { id: string }) => s.id === org.id);
    assert.equal(listed.target_type, 'organization');
    assert.equal(listed.account_id, OWNER);
    assert.ok(res.body.result.every((s: { target_type: string }) => s.target_type === 'organization'));
  });

  test('given a token, when verifying it with fetch and with the SDK, then it is valid and active', async () => {
    const expected = {
      success: true,
      errors: [],
      messages: [{ code: 10000, message: 'This API Token is valid and active', type: null }],
      result: { id: hexId(1, 'c'), status: 'active' },
    };
    assert.deepEqual((await http('GET', '/user/tokens/verify')).body, expected);
    assert.deepEqual((await http('GET', `/accounts/${OWNER}/tokens/verify`)).body, expected);
    assert.deepEqual(await client().user.tokens.verify(), { id: hexId(1, 'c'), status: 'active' });
    assert.deepEqual(await client().accounts.tokens.verify({ account_id: OWNER }), {
      id: hexId(1, 'c'),
      status: 'active',
    });
  });

  test('given an unknown or disabled token, when verifying it through the SDK, then AuthenticationError (401) 1000', async () => {
    for (const token of ['not-a-token', TOKENS.disabled]) {
      const err = await rejection(() => client(token).user.tokens.verify());
      assert.ok(err instanceof Cloudflare.AuthenticationError, String(err));
      assert.deepEqual(err.errors, [{ code: 1000, message: 'Invalid API Token' }]);
    }
  });

  test('given a malformed token or a bad account id, when calling through the SDK, then BadRequestError with the header error chain / the two routing errors', async () => {
    const header = await rejection(() => client('two words').user.tokens.verify());
    assert.ok(header instanceof Cloudflare.BadRequestError, String(header));
    assert.deepEqual(header.errors, [
      {
        code: 6003,
        message: 'Invalid request headers',
        error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
      },
    ]);
    const route = await rejection(() => client().resourceSharing.list({ account_id: 'not-an-id' }));
    assert.ok(route instanceof Cloudflare.BadRequestError, String(route));
    assert.deepEqual(route.errors, [
      {
        code: 7003,
        message:
          'Could not route to /client/v4/accounts/not-an-id/shares, perhaps your object identifier is invalid?',
      },
      { code: 7000, message: 'No route for that URI' },
    ]);
  });

  test('given an organization token, when listing memberships through the SDK with auto-pagination, then every account of its scope, read-only', async () => {
    const seen: { account: string | undefined; write: boolean | undefined; roles: string[] | undefined }[] =
      [];
    for await (const m of client(TOKENS.org).memberships.list({ per_page: 3 })) {
      seen.push({ account: m.account?.id, write: m.permissions?.organization?.write, roles: m.roles });
    }
    assert.deepEqual(
      seen.map((m) => m.account),
      [OWNER, R1, R2, R3],
    );
    assert.ok(seen.every((m) => m.write === false && m.roles?.[0] === 'Administrator Read Only'));
    const page = await client().memberships.list();
    assert.deepEqual(
      page.result.map((m) => [m.account?.id, m.account?.name, m.permissions?.organization, m.status]),
      [[OWNER, 'Acme Owner', { read: true, write: true }, 'accepted']],
    );
  });

  test('given the server, when probing /healthz and an unknown route over HTTP, then 200 and 404 7003 with x-request-id', async () => {
    const health = await fetch(`${origin}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    assert.ok(health.headers.get('x-request-id'));
    const missing = await http('GET', '/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body.errors, [{ code: 7003, message: 'No route for the URI' }]);
    assert.ok(missing.headers.get('x-request-id'));
  });
});
