import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_ROOT } from '../src/http/paths.js';
import {
  assertError,
  base,
  call,
  hexId,
  ORG,
  OTHER_ORG,
  OWNER,
  R1,
  R2,
  R3,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  type Harness,
  type Reply,
} from './helpers.js';
import {
  Contract,
  FAILURE_SCHEMA,
  servedRoutes,
  toFastifyPath,
  type OpenApiDocument,
} from './support/contract.js';
import { buildReconciler } from './support/reconciler.js';
import { nonEmpty } from './support/assert.js';
import { recipientList } from './support/shares.js';

const contract = Contract.load();
/** The document rshare serves (`GET /client/v4/openapi.json`): every recorded response is checked against it too. */
let served: Contract;
/** Operations whose success response was checked against both documents. */
const checked = new Set<string>();

const UNKNOWN = hexId(0xdead, 'f');
const SEED_RESOURCE = seedShareBody().resources[0] as { resource_id: string; resource_type: string };

let h: Harness;

/**
 * Asserts the declared success status and that the body conforms to the operation's declared schema, in
 * the contract and in the served document (found by the contract's path and method).
 */
function conforms(operationId: string, res: Reply): void {
  assert.equal(res.status, contract.successStatus(operationId), JSON.stringify(res.body));
  contract.assertResponse(operationId, res);
  const { method, path } = contract.operation(operationId);
  served.assertRouteResponse(method, path, res);
  checked.add(operationId);
}

/** Asserts the exact failure (assertError) and that it conforms to the common failure of both documents. */
function fails(
  operationId: string,
  res: Reply,
  status: number,
  code: number,
  message: string | RegExp,
  pointer?: string,
): void {
  assertError(res, status, code, message, pointer);
  assert.equal(contract.schemaRef(operationId, status), FAILURE_SCHEMA);
  contract.assertResponse(operationId, res);
  contract.assertSchema(FAILURE_SCHEMA, res.body, `${operationId} ${status}`);
  const { method, path } = contract.operation(operationId);
  served.assertRouteResponse(method, path, res);
}

interface ShareResult extends Record<string, unknown> {
  id: string;
  modified: string;
  target_type: string;
}

async function createShare(body: object = seedShareBody()): Promise<ShareResult> {
  const res = await call(h.app, 'POST', base(), { body });
  conforms('share-create', res);
  return res.body.result;
}

const orgShareBody = (name = 'Org-wide rules') => ({
  name,
  recipients: [{ organization_id: ORG }],
  resources: [{ ...seedShareBody().resources[0], resource_id: 'org0000000000000000000000000000a' }],
});

const resourcesOf = async (shareId: string) =>
  (await call(h.app, 'GET', `${base()}/${shareId}/resources?per_page=100`)).body.result as {
    id: string;
    resource_id: string;
    status: string;
  }[];

/** What the reconciler would record about one resource in one recipient account. */
async function recordDelivery(
  recipientId: string,
  shareResourceId: string,
  error: string,
  terminal: boolean,
): Promise<void> {
  await h.sql(
    `INSERT INTO recipient_resources (recipient_id, share_resource_id, applied_version, error, terminal, modified)
     VALUES (?, ?, 1, ?, ${terminal ? 'TRUE' : 'FALSE'}, ?)`,
    recipientId,
    shareResourceId,
    error,
    h.clock.timestamp(),
  );
}

before(async () => {
  h = await setup();
  const doc = await h.app.inject({ method: 'GET', url: `${API_ROOT}/openapi.json` });
  assert.equal(doc.statusCode, 200, doc.body);
  served = new Contract(JSON.parse(doc.body) as OpenApiDocument);
});
after(async () => {
  await h.close();
});

describe('the contract document', () => {
  test('given the OpenAPI document, when reading its operations, then it has the 21 resource-sharing operations each with a success response and the common failure for 4XX/5XX', () => {
    assert.equal(contract.operations.length, 21);
    assert.equal(new Set(contract.operations.map((o) => o.operationId)).size, 21);
    for (const op of contract.operations) {
      assert.ok([200, 201, 204].includes(contract.successStatus(op.operationId)), op.operationId);
      assert.equal(contract.schemaRef(op.operationId, 404), FAILURE_SCHEMA, op.operationId);
      assert.equal(contract.schemaRef(op.operationId, 503), FAILURE_SCHEMA, op.operationId);
    }
  });

  test('given the validator, when a body breaks the contract, then it is rejected (so a pass means something)', () => {
    const share = {
      id: UNKNOWN,
      name: 'n',
      account_id: OWNER,
      account_name: 'a',
      organization_id: ORG,
      created: '2026-01-01T00:00:00.000001Z',
      modified: '2026-01-01T00:00:00.000001Z',
      status: 'active',
      target_type: 'account',
    };
    const single = '#/components/schemas/resource-sharing_share_response_single';
    contract.assertSchema(single, { success: true, errors: [], messages: [], result: share });
    const { account_name: _dropped, ...missing } = share;
    assert.throws(
      () => contract.assertSchema(single, { success: true, errors: [], result: missing }),
      /account_name/,
    );
    assert.throws(
      () =>
        contract.assertSchema(single, {
          success: true,
          errors: [],
          result: { ...share, created: 'yesterday' },
        }),
      /date-time/,
    );
    assert.throws(
      () =>
        contract.assertSchema(single, { success: true, errors: [], result: { ...share, status: 'gone' } }),
      /allowed values/,
    );
    assert.throws(
      () =>
        contract.assertSchema(FAILURE_SCHEMA, {
          success: false,
          errors: [{ code: 1404, message: 'x' }],
          result: {},
        }),
      /allowed values/,
    );
    assert.throws(() =>
      contract.assertSchema(FAILURE_SCHEMA, { success: false, errors: [{ code: 1404 }], result: null }),
    );
    assert.throws(
      () => contract.assertResponse('share-recipients-update', { status: 204, body: {} }),
      /no body/,
    );
  });
});

describe('routes', () => {
  test('given the app, when listing its routes, then every contract operation is served under /client/v4', () => {
    for (const op of nonEmpty(contract.operations, 'contract operations')) {
      const url = API_ROOT + toFastifyPath(op.path);
      assert.ok(h.app.hasRoute({ method: op.method, url }), `${op.method} ${url} (${op.operationId})`);
    }
    assert.equal(
      h.app.hasRoute({ method: 'PATCH', url: '/client/v4/accounts/:account_id/shares/:share_id' }),
      false,
    );
  });

  test('given the app, when each contract operation is called at the root, then it reaches the same route', async () => {
    for (const op of contract.operations) {
      const url = op.path.replace(/\{[^}]+\}/g, '0123456789abcdef0123456789abcdef');
      const res = await h.app.inject({ method: op.method, url });
      // No credentials: the route's authentication answers, not the unknown-route handler.
      assert.equal(res.statusCode, 400, `${op.method} ${url}: ${res.body}`);
      assert.equal(JSON.parse(res.body).errors[0].code, 9106, `${op.method} ${url}`);
    }
    const unknown = await h.app.inject({ method: 'GET', url: '/accountsx' });
    assert.equal(JSON.parse(unknown.body).errors[0].code, 7003);
  });

  test('given the printed route tree, when collecting the (method, path) pairs under /client/v4, then they cover all 21 operations and both tokens/verify routes', () => {
    const served = new Set(
      [...servedRoutes(h.app.printRoutes({ commonPrefix: false }))]
        .filter((r) => r.includes(' /client/v4/'))
        .map((r) => r.replace(' /client/v4/', ' /')),
    );
    const expected = [
      ...contract.operations.map((o) => `${o.method} ${toFastifyPath(o.path)}`),
      'GET /accounts/:account_id/tokens/verify',
      'GET /user/tokens/verify',
    ];
    assert.equal(expected.length, 23);
    assert.deepEqual(
      expected.filter((r) => !served.has(r)),
      [],
    );
  });

  test('given no credentials, when calling each of the 21 operations, then each answers 400 9106 in the contract failure shape', async () => {
    const ids: Record<string, string> = {
      account_id: OWNER,
      organization_id: ORG,
      share_id: UNKNOWN,
      recipient_id: UNKNOWN,
      share_resource_id: UNKNOWN,
      excluded_recipient_id: UNKNOWN,
    };
    for (const op of contract.operations) {
      const url = '/client/v4' + op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => ids[name] ?? 'x');
      const body = op.method === 'PUT' && !op.path.endsWith('}') ? [] : op.method === 'GET' ? undefined : {};
      const res = await call(h.app, op.method, url, { token: null, ...(body === undefined ? {} : { body }) });
      fails(op.operationId, res, 400, 9106, 'Missing X-Auth-Key, X-Auth-Email or Authorization headers');
    }
  });
});

describe('shares', () => {
  test('share-create: given the seed example and an organization share, when creating, then 201 conforms with the full share', async () => {
    const res = await call(h.app, 'POST', base(), {
      body: { ...seedShareBody(), tags: { env: 'production' } },
    });
    conforms('share-create', res);
    const s = res.body.result;
    assert.match(s.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...s, id: undefined, created: undefined, modified: undefined },
      {
        id: undefined,
        name: 'My Shared WAF Managed Rule',
        account_id: OWNER,
        account_name: 'Acme Owner',
        organization_id: ORG,
        created: undefined,
        modified: undefined,
        status: 'active',
        target_type: 'account',
        kind: 'sent',
        tags: { env: 'production' },
      },
    );
    assert.equal(s.created, s.modified);

    const org = await createShare(orgShareBody());
    assert.equal(org.target_type, 'organization');
    // The members' recipients come from the reconciler's pass over the new share.
    assert.deepEqual(await recipientList(h.app, org.id), []);
    await buildReconciler({ store: h.store, clock: h.clock }).reconcileOnce();
    assert.deepEqual(
      (await recipientList(h.app, org.id)).map((r) => r.account_id).sort(),
      [R1, R2, R3].sort(),
    );
  });

  test('share-create: given a body without name, when creating, then 400 1400 pointing at /name and conforming', async () => {
    const before = (await call(h.app, 'GET', `${base()}?per_page=100`)).body.result_info.total_count;
    const { name: _n, ...body } = seedShareBody();
    fails(
      'share-create',
      await call(h.app, 'POST', base(), { body }),
      400,
      1400,
      'name is required',
      '/name',
    );
    assert.equal((await call(h.app, 'GET', `${base()}?per_page=100`)).body.result_info.total_count, before);
  });

  test('shares-list: given shares, when listing plain, paginated, with includes and as a recipient, then every page conforms', async () => {
    const share = await createShare({ ...seedShareBody(), name: 'list-me' });
    const plain = await call(h.app, 'GET', `${base()}?per_page=100`);
    conforms('shares-list', plain);
    const mine = plain.body.result.find((s: { id: string }) => s.id === share.id);
    assert.equal(mine.resources, undefined);
    assert.equal(mine.associating_recipient_count, undefined);

    const paged = await call(h.app, 'GET', `${base()}?page=2&per_page=1&order=name&direction=desc`);
    conforms('shares-list', paged);
    assert.equal(paged.body.result.length, 1);
    assert.deepEqual(
      { page: paged.body.result_info.page, per_page: paged.body.result_info.per_page },
      { page: 2, per_page: 1 },
    );

    const full = await call(
      h.app,
      'GET',
      `${base()}?include_resources=true&include_recipient_counts=true&per_page=100`,
    );
    conforms('shares-list', full);
    const withIncludes = full.body.result.find((s: { id: string }) => s.id === share.id);
    assert.equal(withIncludes.resources.length, 1);
    assert.equal(withIncludes.resources[0].resource_id, SEED_RESOURCE.resource_id);
    assert.deepEqual(
      [
        withIncludes.associating_recipient_count,
        withIncludes.associated_recipient_count,
        withIncludes.disassociating_recipient_count,
        withIncludes.disassociated_recipient_count,
      ],
      [1, 0, 0, 0],
    );

    const received = await call(h.app, 'GET', `${base(R1)}?kind=received&include_resources=true`, {
      token: TOKENS.r1,
    });
    conforms('shares-list', received);
    assert.ok(received.body.result.length >= 1);
    for (const s of received.body.result) assert.equal(s.kind, 'received');

    const filtered = await call(
      h.app,
      'GET',
      `${base()}?tag=env=production&resource_types=custom-ruleset&status=active`,
    );
    conforms('shares-list', filtered);
    assert.ok(
      filtered.body.result.every((s: { tags: Record<string, string> }) => s.tags.env === 'production'),
    );
  });

  test('shares-list: given per_page=0, when listing, then 400 1400 pointing at /query/per_page and conforming', async () => {
    fails(
      'shares-list',
      await call(h.app, 'GET', `${base()}?per_page=0`),
      400,
      1400,
      'per_page must be at least 1',
      '/query/per_page',
    );
  });

  test('shares-get-by-id: given a share, when getting it with each include variant and as its recipient, then 200 conforms', async () => {
    const share = await createShare();
    const url = `${base()}/${share.id}`;
    const plain = await call(h.app, 'GET', url);
    conforms('shares-get-by-id', plain);
    assert.deepEqual(plain.body.result, share);

    const resources = await call(h.app, 'GET', `${url}?include_resources=true`);
    conforms('shares-get-by-id', resources);
    assert.equal(resources.body.result.resources.length, 1);
    assert.equal(resources.body.result.associated_recipient_count, undefined);

    const counts = await call(h.app, 'GET', `${url}?include_recipient_counts=true`);
    conforms('shares-get-by-id', counts);
    assert.equal(counts.body.result.resources, undefined);
    assert.equal(counts.body.result.associating_recipient_count, 1);

    const both = await call(h.app, 'GET', `${url}?include_resources=true&include_recipient_counts=true`);
    conforms('shares-get-by-id', both);
    assert.equal(both.body.result.resources.length, 1);
    assert.equal(both.body.result.disassociated_recipient_count, 0);

    const received = await call(h.app, 'GET', `${base(R1)}/${share.id}?include_resources=true`, {
      token: TOKENS.r1,
    });
    conforms('shares-get-by-id', received);
    assert.equal(received.body.result.kind, 'received');
    assert.equal(received.body.result.account_id, OWNER);
  });

  test('shares-get-by-id: given an unknown id, when getting, then 404 1404 "Share not found" conforming', async () => {
    fails('shares-get-by-id', await call(h.app, 'GET', `${base()}/${UNKNOWN}`), 404, 1404, 'Share not found');
  });

  test('share-update: given a share, when renaming it, then 200 conforms with the new name; a blank name is 400 conforming', async () => {
    const share = await createShare();
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', `${base()}/${share.id}`, { body: { name: 'Renamed' } });
    conforms('share-update', res);
    assert.equal(res.body.result.name, 'Renamed');
    assert.ok(res.body.result.modified > share.modified);

    fails(
      'share-update',
      await call(h.app, 'PUT', `${base()}/${share.id}`, { body: { name: ' ' } }),
      400,
      1400,
      'name must not be blank',
      '/name',
    );
    assert.equal((await call(h.app, 'GET', `${base()}/${share.id}`)).body.result.name, 'Renamed');
  });

  test('share-delete: given a share, when deleting, then 200 conforms with status deleting; deleting again is 409 conforming', async () => {
    const share = await createShare();
    const res = await call(h.app, 'DELETE', `${base()}/${share.id}`);
    conforms('share-delete', res);
    assert.equal(res.body.result.status, 'deleting');
    assert.equal(res.body.result.id, share.id);

    const again = await call(h.app, 'DELETE', `${base()}/${share.id}`);
    fails('share-delete', again, 409, 1409, 'The share is deleting and can no longer be changed');
    assert.equal(again.headers['x-should-retry'], 'false');
  });

  test('organization-shares-list: given an organization token, when listing, then 200 conforms with the org shares; another organization is 403 conforming', async () => {
    const org = await createShare(orgShareBody('org-listed'));
    const res = await call(h.app, 'GET', `/client/v4/organizations/${ORG}/shares?per_page=100`, {
      token: TOKENS.org,
    });
    conforms('organization-shares-list', res);
    const listed = res.body.result.find((s: { id: string }) => s.id === org.id);
    assert.equal(listed.target_type, 'organization');
    assert.ok(res.body.result.every((s: { organization_id: string }) => s.organization_id === ORG));

    const filtered = await call(
      h.app,
      'GET',
      `/client/v4/organizations/${ORG}/shares?target_type=organization`,
      {
        token: TOKENS.org,
      },
    );
    conforms('organization-shares-list', filtered);
    assert.ok(
      nonEmpty(filtered.body.result as { target_type: string }[], 'organization-targeted shares').every(
        (s) => s.target_type === 'organization',
      ),
    );

    fails(
      'organization-shares-list',
      await call(h.app, 'GET', `/client/v4/organizations/${OTHER_ORG}/shares`, { token: TOKENS.org }),
      403,
      10000,
      'Authentication error',
    );
  });
});

describe('recipients', () => {
  test('share-recipients-list: given a share with a delivery record, when listing plain and with include_resources, then 200 conforms', async () => {
    const share = await createShare();
    const [recipient] = await recipientList(h.app, share.id);
    const [resource] = await resourcesOf(share.id);
    assert.ok(recipient && resource);
    await recordDelivery(recipient.id, resource.id, 'Recipient is missing necessary entitlement', true);

    const plain = await call(h.app, 'GET', `${base()}/${share.id}/recipients`);
    conforms('share-recipients-list', plain);
    assert.equal(plain.body.result.length, 1);
    assert.equal(plain.body.result[0].resources, undefined);

    const res = await call(
      h.app,
      'GET',
      `${base()}/${share.id}/recipients?include_resources=true&page=1&per_page=5`,
    );
    conforms('share-recipients-list', res);
    assert.deepEqual(res.body.result[0].resources, [
      {
        resource_id: SEED_RESOURCE.resource_id,
        resource_version: 1,
        error: 'Recipient is missing necessary entitlement',
        terminal: true,
      },
    ]);
  });

  test('share-recipients-list: given an unknown share, when listing, then 404 conforming', async () => {
    fails(
      'share-recipients-list',
      await call(h.app, 'GET', `${base()}/${UNKNOWN}/recipients`),
      404,
      1404,
      'Share not found',
    );
  });

  test('share-recipient-create: given an account share, when adding R2 (and the legacy field name), then 201 conforms; adding R1 again is 409 conforming', async () => {
    const share = await createShare();
    const res = await call(h.app, 'POST', `${base()}/${share.id}/recipients`, {
      body: { recipient_account_id: R2 },
    });
    conforms('share-recipient-create', res);
    assert.equal(res.body.result.account_id, R2);
    assert.equal(res.body.result.association_status, 'associating');

    const legacy = await call(h.app, 'POST', `${base()}/${share.id}/recipients`, {
      body: { account_id: R3 },
    });
    conforms('share-recipient-create', legacy);
    assert.equal(legacy.body.result.account_id, R3);

    const dup = await call(h.app, 'POST', `${base()}/${share.id}/recipients`, {
      body: { recipient_account_id: R1 },
    });
    fails('share-recipient-create', dup, 409, 1409, `Account ${R1} is already a recipient of the share`);
    assert.equal(dup.headers['x-should-retry'], 'false');
    assert.equal((await recipientList(h.app, share.id)).length, 3);
  });

  test('share-recipients-get-by-id: given a recipient, when getting plain and with include_resources, then 200 conforms; an unknown id is 404 conforming', async () => {
    const share = await createShare();
    const [recipient] = await recipientList(h.app, share.id);
    assert.ok(recipient);
    const url = `${base()}/${share.id}/recipients/${recipient.id}`;
    const plain = await call(h.app, 'GET', url);
    conforms('share-recipients-get-by-id', plain);
    assert.equal(plain.body.result.id, recipient.id);
    assert.equal(plain.body.result.account_id, R1);

    const res = await call(h.app, 'GET', `${url}?include_resources=true`);
    conforms('share-recipients-get-by-id', res);
    assert.deepEqual(res.body.result.resources, []);

    fails(
      'share-recipients-get-by-id',
      await call(h.app, 'GET', `${base()}/${share.id}/recipients/${UNKNOWN}`),
      404,
      1404,
      'Share recipient not found',
    );
  });

  test('share-recipients-update: given recipients [R1], when replacing with [R2, R3], then 204 with an empty body and R1 disassociating', async () => {
    const share = await createShare();
    const res = await call(h.app, 'PUT', `${base()}/${share.id}/recipients`, {
      body: [{ recipient_account_id: R2 }, { recipient_account_id: R3 }],
    });
    conforms('share-recipients-update', res);
    assert.equal(res.body, undefined);
    const byAccount = Object.fromEntries(
      (await recipientList(h.app, share.id)).map((r) => [r.account_id, r.association_status]),
    );
    assert.deepEqual(byAccount, { [R1]: 'disassociating', [R2]: 'associating', [R3]: 'associating' });
  });

  test('share-recipients-update: given an account outside the organization, when replacing, then 400 with a pointer into the array, conforming, and nothing changes', async () => {
    const share = await createShare();
    fails(
      'share-recipients-update',
      await call(h.app, 'PUT', `${base()}/${share.id}/recipients`, {
        body: [{ recipient_account_id: R2 }, { recipient_account_id: STRANGER }],
      }),
      400,
      1400,
      `Account ${STRANGER} is not a member of the share owner's organization`,
      '/1/recipient_account_id',
    );
    assert.deepEqual(
      (await recipientList(h.app, share.id)).map((r) => [r.account_id, r.association_status]),
      [[R1, 'associating']],
    );
  });

  test('share-recipient-delete: given a recipient, when deleting, then 200 conforms with disassociating; deleting again is 409 conforming', async () => {
    const share = await createShare();
    const [recipient] = await recipientList(h.app, share.id);
    assert.ok(recipient);
    const url = `${base()}/${share.id}/recipients/${recipient.id}`;
    const res = await call(h.app, 'DELETE', url);
    conforms('share-recipient-delete', res);
    assert.equal(res.body.result.association_status, 'disassociating');
    assert.equal(res.body.result.id, recipient.id);

    fails(
      'share-recipient-delete',
      await call(h.app, 'DELETE', url),
      409,
      1409,
      'The recipient is already disassociating',
    );
  });
});

describe('resources', () => {
  test('share-resources-list: given a share, when listing plain, filtered and as the recipient, then 200 conforms; a bad status filter is 400 conforming', async () => {
    const share = await createShare();
    const plain = await call(h.app, 'GET', `${base()}/${share.id}/resources`);
    conforms('share-resources-list', plain);
    assert.equal(plain.body.result.length, 1);
    assert.deepEqual(
      { ...plain.body.result[0], id: undefined, created: undefined, modified: undefined },
      {
        id: undefined,
        resource_id: SEED_RESOURCE.resource_id,
        resource_type: 'custom-ruleset',
        resource_account_id: OWNER,
        meta: {},
        status: 'active',
        resource_version: 1,
        created: undefined,
        modified: undefined,
      },
    );

    const filtered = await call(
      h.app,
      'GET',
      `${base()}/${share.id}/resources?resource_type=gateway-policy&status=active`,
    );
    conforms('share-resources-list', filtered);
    assert.deepEqual(filtered.body.result, []);

    const received = await call(h.app, 'GET', `${base(R1)}/${share.id}/resources`, { token: TOKENS.r1 });
    conforms('share-resources-list', received);
    assert.equal(received.body.result.length, 1);

    fails(
      'share-resources-list',
      await call(h.app, 'GET', `${base()}/${share.id}/resources?status=bogus`),
      400,
      1400,
      'status must be one of: active, deleting, deleted',
      '/query/status',
    );
  });

  test('share-resource-create: given a share, when adding a gateway policy, then 201 conforms; adding it again is 409 conforming', async () => {
    const share = await createShare();
    const body = {
      resource_id: '9d7f2b4c1a0e4f6a8b3c5d7e9f1a2b3c',
      resource_type: 'gateway-policy',
      resource_account_id: OWNER,
      meta: { description: 'Block malware', precedence: 10 },
    };
    const res = await call(h.app, 'POST', `${base()}/${share.id}/resources`, { body });
    conforms('share-resource-create', res);
    assert.deepEqual(
      { ...res.body.result, id: undefined, created: undefined, modified: undefined },
      {
        ...body,
        id: undefined,
        status: 'active',
        resource_version: 1,
        created: undefined,
        modified: undefined,
      },
    );

    const dup = await call(h.app, 'POST', `${base()}/${share.id}/resources`, { body });
    fails(
      'share-resource-create',
      dup,
      409,
      1409,
      `Resource gateway-policy ${body.resource_id} is already part of the share`,
    );
    assert.equal((await resourcesOf(share.id)).length, 2);
  });

  test('share-resources-get-by-id: given a resource, when getting it, then 200 conforms; an unknown id is 404 conforming', async () => {
    const share = await createShare();
    const [resource] = await resourcesOf(share.id);
    assert.ok(resource);
    const res = await call(h.app, 'GET', `${base()}/${share.id}/resources/${resource.id}`);
    conforms('share-resources-get-by-id', res);
    assert.equal(res.body.result.id, resource.id);

    fails(
      'share-resources-get-by-id',
      await call(h.app, 'GET', `${base()}/${share.id}/resources/${UNKNOWN}`),
      404,
      1404,
      'Share resource not found',
    );
  });

  test('share-resource-update: given a resource, when replacing its meta, then 200 conforms; a body without meta is 400 conforming', async () => {
    const share = await createShare();
    const [resource] = await resourcesOf(share.id);
    assert.ok(resource);
    const url = `${base()}/${share.id}/resources/${resource.id}`;
    const res = await call(h.app, 'PUT', url, { body: { meta: { note: 'tuned' } } });
    conforms('share-resource-update', res);
    assert.deepEqual(res.body.result.meta, { note: 'tuned' });

    fails(
      'share-resource-update',
      await call(h.app, 'PUT', url, { body: {} }),
      400,
      1400,
      'meta is required',
      '/meta',
    );
    assert.deepEqual((await call(h.app, 'GET', url)).body.result.meta, { note: 'tuned' });
  });

  test('share-resource-delete: given a resource, when deleting, then 200 conforms with status deleting; deleting again is 409 conforming', async () => {
    const share = await createShare();
    const [resource] = await resourcesOf(share.id);
    assert.ok(resource);
    const url = `${base()}/${share.id}/resources/${resource.id}`;
    const res = await call(h.app, 'DELETE', url);
    conforms('share-resource-delete', res);
    assert.equal(res.body.result.status, 'deleting');

    fails(
      'share-resource-delete',
      await call(h.app, 'DELETE', url),
      409,
      1409,
      'The resource is deleting and can no longer be changed',
    );
  });
});

describe('excluded recipients', () => {
  test('share-excluded-recipients-list: given an organization share with an exclusion, when listing, then 200 conforms; on an account share it is 400 conforming', async () => {
    const org = await createShare(orgShareBody());
    const created = await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, {
      body: { account_id: R1 },
    });
    conforms('share-excluded-recipient-create', created);

    const res = await call(h.app, 'GET', `${base()}/${org.id}/excluded-recipients?page=1&per_page=10`);
    conforms('share-excluded-recipients-list', res);
    assert.deepEqual(res.body.result, [created.body.result]);
    assert.equal(res.body.result_info.total_count, 1);

    const account = await createShare();
    fails(
      'share-excluded-recipients-list',
      await call(h.app, 'GET', `${base()}/${account.id}/excluded-recipients`),
      400,
      1400,
      'Excluded recipients apply only to shares with target_type=organization',
      '/path/share_id',
    );
  });

  test('share-excluded-recipient-create: given an organization share, when excluding R2, then 201 conforms; excluding the owner is 400 conforming', async () => {
    const org = await createShare(orgShareBody());
    const res = await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, {
      body: { account_id: R2 },
    });
    conforms('share-excluded-recipient-create', res);
    assert.equal(res.body.result.account_id, R2);
    assert.match(res.body.result.id, /^[0-9a-f]{32}$/);

    fails(
      'share-excluded-recipient-create',
      await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, { body: { account_id: OWNER } }),
      400,
      1400,
      'The share owner account cannot be excluded',
      '/account_id',
    );
  });

  test('share-excluded-recipients-get-by-id: given an exclusion, when getting it, then 200 conforms; an unknown id is 404 conforming', async () => {
    const org = await createShare(orgShareBody());
    const created = await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, {
      body: { account_id: R3 },
    });
    const res = await call(h.app, 'GET', `${base()}/${org.id}/excluded-recipients/${created.body.result.id}`);
    conforms('share-excluded-recipients-get-by-id', res);
    assert.deepEqual(res.body.result, created.body.result);

    fails(
      'share-excluded-recipients-get-by-id',
      await call(h.app, 'GET', `${base()}/${org.id}/excluded-recipients/${UNKNOWN}`),
      404,
      1404,
      'Share excluded recipient not found',
    );
  });

  test('share-excluded-recipients-update: given exclusions [R1], when replacing with [R2, R3], then 204 with an empty body; an outsider is 400 conforming', async () => {
    const org = await createShare(orgShareBody());
    await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, { body: { account_id: R1 } });
    const res = await call(h.app, 'PUT', `${base()}/${org.id}/excluded-recipients`, {
      body: [{ account_id: R2 }, { account_id: R3 }],
    });
    conforms('share-excluded-recipients-update', res);
    assert.equal(res.body, undefined);
    const listed = await call(h.app, 'GET', `${base()}/${org.id}/excluded-recipients`);
    assert.deepEqual(
      listed.body.result.map((e: { account_id: string }) => e.account_id).sort(),
      [R2, R3].sort(),
    );

    fails(
      'share-excluded-recipients-update',
      await call(h.app, 'PUT', `${base()}/${org.id}/excluded-recipients`, {
        body: [{ account_id: STRANGER }],
      }),
      400,
      1400,
      `Account ${STRANGER} is not a member of the share owner's organization`,
      '/0/account_id',
    );
  });

  test('share-excluded-recipient-delete: given an exclusion, when deleting it, then 200 conforms with the removed exclusion; an unknown id is 404 conforming', async () => {
    const org = await createShare(orgShareBody());
    const created = await call(h.app, 'POST', `${base()}/${org.id}/excluded-recipients`, {
      body: { account_id: R1 },
    });
    const url = `${base()}/${org.id}/excluded-recipients/${created.body.result.id}`;
    const res = await call(h.app, 'DELETE', url);
    conforms('share-excluded-recipient-delete', res);
    assert.deepEqual(res.body.result, created.body.result);
    assert.deepEqual((await call(h.app, 'GET', `${base()}/${org.id}/excluded-recipients`)).body.result, []);

    fails(
      'share-excluded-recipient-delete',
      await call(h.app, 'DELETE', url),
      404,
      1404,
      'Share excluded recipient not found',
    );
  });
});

describe('the served document', () => {
  test('given the responses recorded above, then a success response of each of the 21 operations was validated against both the contract and the served document', () => {
    assert.deepEqual(
      contract.operations.map((o) => o.operationId).filter((id) => !checked.has(id)),
      [],
    );
    assert.equal(checked.size, 21);
  });
});
