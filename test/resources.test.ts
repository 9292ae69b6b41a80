import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertError,
  assertErrors,
  base,
  call,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  R3,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  type Harness,
  ID,
  TIMESTAMP,
  SHARE_NOT_FOUND,
  SHARE_DELETING,
  fanOut,
  routeErrors,
} from './helpers.js';
import { auditEntry, CLI_ACTOR } from '../src/platform/audit/entry.js';
import { WRITE_ATTEMPTS } from '../src/cloudflare/resources/service.js';
import { assertBodiesRefused, assertQueriesRefused } from './support/refused.js';
import { assertIdsNotFound, type IdCall } from './support/not-found.js';
import { assertConflict, assertOnePage, assertPageInfo, assertSuccess } from './support/assert.js';
import { accountShare, addR3Token, R3_TOKEN, type Resource } from './support/shares.js';

const RESOURCE_NOT_FOUND = 'Share resource not found';
const RESOURCE_DELETING = 'The resource is deleting and can no longer be changed';
const SEED_RESOURCE_ID = '023e105f4ecef8ad9ca31a8372d0c353';
const TYPES =
  'custom-ruleset, gateway-policy, gateway-destination-ip, gateway-block-page-settings, gateway-extended-email-matching, idp-federation-grant, trust-grant';

let h: Harness;
before(async () => {
  h = await setup();
  await addR3Token(h); // so R3 reaches the share rules, not the scope check
});
after(async () => {
  await h.close();
});

const resourcesUrl = (shareId: string, suffix = '', account = OWNER) =>
  `${base(account)}/${shareId}/resources${suffix}`;

const resourceBody = (
  resource_id: string,
  resource_type = 'gateway-policy',
  meta: Record<string, unknown> = {},
) => ({
  resource_id,
  resource_type,
  resource_account_id: OWNER,
  meta,
});

async function addResource(shareId: string, body: ReturnType<typeof resourceBody>): Promise<Resource> {
  const res = await call(h.app, 'POST', resourcesUrl(shareId), { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.result as Resource;
}

/** Every resource of the share (one page of 100), in list order. */
async function resourcesOf(shareId: string): Promise<Resource[]> {
  const res = await call(h.app, 'GET', resourcesUrl(shareId, '?per_page=100'));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result as Resource[];
}

async function seedResource(shareId: string): Promise<Resource> {
  const [seed] = await resourcesOf(shareId);
  assert.ok(seed);
  return seed;
}

function assertResource(r: Resource, expected: Omit<Resource, 'id' | 'created' | 'modified'>): void {
  assert.match(r.id, ID);
  assert.match(r.created, TIMESTAMP);
  assert.match(r.modified, TIMESTAMP);
  const { id: _id, created: _c, modified: _m, ...rest } = r;
  assert.deepEqual(rest, expected);
}

describe('GET /shares/{share_id}/resources', () => {
  test('given a new share, when listing its resources, then the seed resource is active at version 1', async () => {
    const shareId = await accountShare(h.app);
    const res = await call(h.app, 'GET', resourcesUrl(shareId));
    assertSuccess(res);
    assertOnePage(res, 1);
    assert.equal(res.body.result.length, 1);
    assertResource(res.body.result[0], {
      resource_id: SEED_RESOURCE_ID,
      resource_type: 'custom-ruleset',
      resource_account_id: OWNER,
      meta: {},
      status: 'active',
      resource_version: 1,
    });
  });

  test('given resources of several types and statuses, when filtering by status and resource_type, then only matching ones are listed', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    const policy = await addResource(shareId, resourceBody('policy-1', 'gateway-policy'));
    const ip = await addResource(shareId, resourceBody('ip-1', 'gateway-destination-ip'));
    const gone = await addResource(shareId, resourceBody('policy-2', 'gateway-policy'));
    assertSuccess(await call(h.app, 'DELETE', resourcesUrl(shareId, `/${gone.id}`)));
    const ids = async (query: string) => {
      const res = await call(h.app, 'GET', resourcesUrl(shareId, query));
      assertSuccess(res);
      assert.equal(res.body.result_info.total_count, res.body.result.length);
      return (res.body.result as Resource[]).map((r) => r.id).sort();
    };
    assert.deepEqual(await ids(''), [seed.id, policy.id, ip.id, gone.id].sort());
    assert.deepEqual(await ids('?status=active'), [seed.id, policy.id, ip.id].sort());
    assert.deepEqual(await ids('?status=deleting'), [gone.id]);
    assert.deepEqual(await ids('?status=deleted'), []);
    assert.deepEqual(await ids('?resource_type=gateway-policy'), [policy.id, gone.id].sort());
    assert.deepEqual(await ids('?resource_type=gateway-policy&status=active'), [policy.id]);
    assert.deepEqual(await ids('?resource_type=custom-ruleset'), [seed.id]);
    assert.deepEqual(await ids('?resource_type=idp-federation-grant'), []);
  });

  test('given five resources, when paging with per_page=2, then three pages cover them in creation order', async () => {
    const shareId = await accountShare(h.app);
    for (let i = 1; i <= 4; i++) {
      h.clock.advance(10);
      await addResource(shareId, resourceBody(`page-${i}`));
    }
    const all = await resourcesOf(shareId);
    assert.deepEqual(
      all.map((r) => r.resource_id),
      [SEED_RESOURCE_ID, 'page-1', 'page-2', 'page-3', 'page-4'],
    );
    const pages: Resource[] = [];
    for (const page of [1, 2, 3]) {
      const res = await call(h.app, 'GET', resourcesUrl(shareId, `?page=${page}&per_page=2`));
      assertSuccess(res);
      assert.deepEqual(res.body.result_info, {
        page,
        per_page: 2,
        count: page === 3 ? 1 : 2,
        total_count: 5,
        total_pages: 3,
      });
      pages.push(...res.body.result);
    }
    assert.deepEqual(pages, all);
    const beyond = await call(h.app, 'GET', resourcesUrl(shareId, '?page=4&per_page=2'));
    assertSuccess(beyond);
    assert.deepEqual(beyond.body.result, []);
    const filtered = await call(
      h.app,
      'GET',
      resourcesUrl(shareId, '?resource_type=gateway-policy&per_page=3&page=2'),
    );
    assertSuccess(filtered);
    assertPageInfo(filtered, 2, 3, 1, 4, 2);
    assert.deepEqual(filtered.body.result, [all[4]]);
  });

  test('given invalid filters, when listing, then 400 with a pointer to the query parameter', async () => {
    const shareId = await accountShare(h.app);
    await assertQueriesRefused(h.app, (q) => resourcesUrl(shareId, q), [
      ['?status=gone', 'status must be one of: active, deleting, deleted', '/query/status'],
      ['?resource_type=zone', `resource_type must be one of: ${TYPES}`, '/query/resource_type'],
      ['?per_page=0', 'per_page must be at least 1', '/query/per_page'],
      ['?page=x', 'page must be an integer', '/query/page'],
    ]);
  });

  test('given an unknown share, when listing resources, then 404 Share not found', async () => {
    assertError(await call(h.app, 'GET', resourcesUrl(hexId(0xdead))), 404, 1404, SHARE_NOT_FOUND);
  });
});

describe('GET /shares/{share_id}/resources/{share_resource_id}', () => {
  test('given a resource id, when getting it, then the resource is returned as listed', async () => {
    const shareId = await accountShare(h.app);
    const added = await addResource(shareId, resourceBody('get-1', 'idp-federation-grant', { a: 1 }));
    const res = await call(h.app, 'GET', resourcesUrl(shareId, `/${added.id}`));
    assertSuccess(res);
    assert.deepEqual(res.body.result, added);
    assert.deepEqual((await resourcesOf(shareId)).at(-1), added);
  });

  test('given an unknown resource id, when getting it, then 404 Share resource not found', async () => {
    const shareId = await accountShare(h.app);
    const url = (id: string) => resourcesUrl(shareId, `/${id}`);
    await assertIdsNotFound(h.app, url, [hexId(0xbeef)], [{ method: 'GET' }], RESOURCE_NOT_FOUND);
  });

  test('given the resource id of another share, when getting it under this share, then 404 Share resource not found', async () => {
    const one = await accountShare(h.app);
    const other = await accountShare(h.app);
    const foreign = await seedResource(other);
    const calls: IdCall[] = [{ method: 'GET' }, { method: 'PUT', body: { meta: {} } }, { method: 'DELETE' }];
    await assertIdsNotFound(
      h.app,
      (id) => resourcesUrl(one, `/${id}`),
      [foreign.id],
      calls,
      RESOURCE_NOT_FOUND,
    );
    assert.deepEqual(await seedResource(other), foreign);
  });

  test('given a resource id longer than 32 characters, when getting it, then 400 7003 + 7000 naming the path', async () => {
    const url = resourcesUrl(await accountShare(h.app), `/${'a'.repeat(33)}`);
    assertErrors(await call(h.app, 'GET', url), 400, routeErrors(url));
  });
});

describe('POST /shares/{share_id}/resources', () => {
  test('given a resource of the owner, when adding it, then 201 with an active resource at version 1 that is listed', async () => {
    const shareId = await accountShare(h.app);
    h.clock.advance(1000);
    const meta = { nested: { list: [1, 'two', null], flag: true }, n: 1.5 };
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      body: resourceBody('rs-1', 'gateway-block-page-settings', meta),
    });
    assertSuccess(res, 201);
    assertResource(res.body.result, {
      resource_id: 'rs-1',
      resource_type: 'gateway-block-page-settings',
      resource_account_id: OWNER,
      meta,
      status: 'active',
      resource_version: 1,
    });
    assert.equal(res.body.result.created, res.body.result.modified);
    const list = await resourcesOf(shareId);
    assert.equal(list.length, 2);
    assert.deepEqual(list[1], res.body.result);
  });

  test('given meta keys holding line breaks, when adding the resource, then they are kept in the answer and in later reads', async () => {
    const shareId = await accountShare(h.app);
    // A `^(.*)$` key pattern does not match across a line break: the serializer dropped these keys.
    const meta = { 'two\nlines': 1, 'cr\rkey': { 'x\u2028y': true } };
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      body: resourceBody('rs-lines', 'gateway-policy', meta),
    });
    assertSuccess(res, 201);
    assert.deepEqual(res.body.result.meta, meta);
    const got = await call(h.app, 'GET', resourcesUrl(shareId, `/${res.body.result.id}`));
    assert.deepEqual(got.body.result.meta, meta);
  });

  test('given the id of an existing resource with another type, when adding it, then it is a different resource', async () => {
    const shareId = await accountShare(h.app);
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      body: resourceBody(SEED_RESOURCE_ID, 'gateway-policy'),
    });
    assertSuccess(res, 201);
    assert.equal(res.body.result.resource_type, 'gateway-policy');
    assert.equal((await resourcesOf(shareId)).length, 2);
  });

  test('given a resource of another account, when adding it, then 400 with a pointer to resource_account_id', async () => {
    const shareId = await accountShare(h.app);
    const before = await resourcesOf(shareId);
    for (const account of [R1, STRANGER, hexId(0x999, 'b')]) {
      const res = await call(h.app, 'POST', resourcesUrl(shareId), {
        body: { ...resourceBody('other-1'), resource_account_id: account },
      });
      assertError(
        res,
        400,
        1400,
        "resource_account_id must be the share owner's account",
        '/resource_account_id',
      );
    }
    assert.deepEqual(await resourcesOf(shareId), before);
  });

  test('given a resource already in the share, when adding it again, then 409 and nothing changes', async () => {
    const shareId = await accountShare(h.app);
    const before = await resourcesOf(shareId);
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      body: resourceBody(SEED_RESOURCE_ID, 'custom-ruleset', { other: true }),
    });
    assertConflict(res, `Resource custom-ruleset ${SEED_RESOURCE_ID} is already part of the share`);
    assert.deepEqual(await resourcesOf(shareId), before);
  });

  test('given a resource that is deleting, when adding the same type and id, then still 409', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    assertSuccess(await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seed.id}`)));
    const before = await resourcesOf(shareId);
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      body: resourceBody(SEED_RESOURCE_ID, 'custom-ruleset'),
    });
    assertConflict(res, `Resource custom-ruleset ${SEED_RESOURCE_ID} is already part of the share`);
    assert.deepEqual(await resourcesOf(shareId), before);
  });

  test('given a resource the reconciler marked deleted, when adding the same type and id, then 201 with a new resource', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    assertSuccess(await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seed.id}`)));
    await h.sql(`UPDATE share_resources SET status = 'deleted' WHERE id = ?`, seed.id);
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      body: resourceBody(SEED_RESOURCE_ID, 'custom-ruleset', { again: 1 }),
    });
    assertSuccess(res, 201);
    assert.notEqual(res.body.result.id, seed.id);
    assert.equal(res.body.result.status, 'active');
    assert.equal(res.body.result.resource_version, 1);
    const list = await resourcesOf(shareId);
    assert.deepEqual(
      list.map((r) => [r.id, r.status]),
      [
        [seed.id, 'deleted'],
        [res.body.result.id, 'active'],
      ],
    );
  });

  test('given invalid bodies, when adding, then 400 with a pointer to the field and nothing changes', async () => {
    const shareId = await accountShare(h.app);
    const before = await resourcesOf(shareId);
    const valid = resourceBody('bad-1');
    const { meta: _meta, ...noMeta } = valid;
    const { resource_id: _rid, ...noResourceId } = valid;
    const { resource_type: _rt, ...noType } = valid;
    const { resource_account_id: _ra, ...noAccount } = valid;
    const cases: [unknown, string, string][] = [
      [{ ...valid, resource_type: 'zone' }, `resource_type must be one of: ${TYPES}`, '/resource_type'],
      [noMeta, 'meta is required', '/meta'],
      [{ ...valid, meta: 'x' }, 'meta must be an object', '/meta'],
      [{ ...valid, meta: [1, 2] }, 'meta must be an object', '/meta'],
      [{ ...valid, meta: null }, 'meta must be an object', '/meta'],
      [noResourceId, 'resource_id is required', '/resource_id'],
      [{ ...valid, resource_id: '' }, 'resource_id must not be empty', '/resource_id'],
      [
        { ...valid, resource_id: 'r'.repeat(33) },
        'resource_id must be at most 32 characters',
        '/resource_id',
      ],
      [noType, 'resource_type is required', '/resource_type'],
      [noAccount, 'resource_account_id is required', '/resource_account_id'],
      [[valid], 'body must be an object', ''],
    ];
    await assertBodiesRefused(h.app, 'POST', resourcesUrl(shareId), cases);
    assert.deepEqual(await resourcesOf(shareId), before);
  });

  test('given an unknown share, when adding a resource, then 404 Share not found', async () => {
    const res = await call(h.app, 'POST', resourcesUrl(hexId(0xdead)), { body: resourceBody('x') });
    assertError(res, 404, 1404, SHARE_NOT_FOUND);
  });

  test('given a read-only token, when adding a resource, then 403 and nothing changes', async () => {
    const shareId = await accountShare(h.app);
    const before = await resourcesOf(shareId);
    const res = await call(h.app, 'POST', resourcesUrl(shareId), {
      token: TOKENS.ownerRead,
      body: resourceBody('ro'),
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await resourcesOf(shareId), before);
  });
});

describe('PUT /shares/{share_id}/resources/{share_resource_id}', () => {
  test('given new meta, when updating twice, then meta is replaced and the version goes 1, 2, 3 as modified moves', async () => {
    const shareId = await accountShare(h.app);
    const added = await addResource(shareId, resourceBody('upd-1', 'gateway-policy', { keep: 'no', a: 1 }));
    assert.equal(added.resource_version, 1);
    h.clock.advance(1000);
    const first = await call(h.app, 'PUT', resourcesUrl(shareId, `/${added.id}`), {
      body: { meta: { b: 2 } },
    });
    assertSuccess(first);
    assert.deepEqual(first.body.result, {
      ...added,
      meta: { b: 2 },
      resource_version: 2,
      modified: first.body.result.modified,
    });
    assert.ok(first.body.result.modified > added.modified);
    h.clock.advance(1000);
    const second = await call(h.app, 'PUT', resourcesUrl(shareId, `/${added.id}`), { body: { meta: {} } });
    assertSuccess(second);
    assert.deepEqual(second.body.result, {
      ...added,
      meta: {},
      resource_version: 3,
      modified: second.body.result.modified,
    });
    assert.ok(second.body.result.modified > first.body.result.modified);
    const got = await call(h.app, 'GET', resourcesUrl(shareId, `/${added.id}`));
    assertSuccess(got);
    assert.deepEqual(got.body.result, second.body.result);
  });

  test('given invalid meta, when updating, then 400 with a pointer to meta and nothing changes', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    for (const [body, message] of [
      [{}, 'meta is required'],
      [{ meta: 'x' }, 'meta must be an object'],
      [{ meta: [] }, 'meta must be an object'],
    ] as const) {
      assertError(
        await call(h.app, 'PUT', resourcesUrl(shareId, `/${seed.id}`), { body }),
        400,
        1400,
        message,
        '/meta',
      );
    }
    assert.deepEqual(await seedResource(shareId), seed);
  });

  test('given an unknown resource id, when updating, then 404 Share resource not found', async () => {
    const shareId = await accountShare(h.app);
    const url = (id: string) => resourcesUrl(shareId, `/${id}`);
    const put: IdCall = { method: 'PUT', body: { meta: {} } };
    await assertIdsNotFound(h.app, url, [hexId(0xbeef)], [put], RESOURCE_NOT_FOUND);
  });

  test('given a read-only token, when updating a resource, then 403 and nothing changes', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    const res = await call(h.app, 'PUT', resourcesUrl(shareId, `/${seed.id}`), {
      token: TOKENS.ownerRead,
      body: { meta: { x: 1 } },
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await seedResource(shareId), seed);
  });
});

describe('DELETE /shares/{share_id}/resources/{share_resource_id}', () => {
  test('given an active resource, when deleting it, then 200 with it deleting and later changes to it are 409', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seed.id}`));
    assertSuccess(res);
    assert.deepEqual(res.body.result, { ...seed, status: 'deleting', modified: res.body.result.modified });
    assert.ok(res.body.result.modified > seed.modified);
    assert.deepEqual(await resourcesOf(shareId), [res.body.result]);
    h.clock.advance(1000);
    assertConflict(
      await call(h.app, 'PUT', resourcesUrl(shareId, `/${seed.id}`), { body: { meta: { x: 1 } } }),
      RESOURCE_DELETING,
    );
    assertConflict(await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seed.id}`)), RESOURCE_DELETING);
    assert.deepEqual(await resourcesOf(shareId), [res.body.result]);
  });

  test('given an unknown resource id, when deleting, then 404 Share resource not found', async () => {
    const shareId = await accountShare(h.app);
    const url = (id: string) => resourcesUrl(shareId, `/${id}`);
    await assertIdsNotFound(h.app, url, [hexId(0xbeef)], [{ method: 'DELETE' }], RESOURCE_NOT_FOUND);
  });

  test('given a read-only token, when deleting a resource, then 403 and nothing changes', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    const res = await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seed.id}`), {
      token: TOKENS.ownerRead,
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await seedResource(shareId), seed);
  });
});

describe('resources seen by recipients and others', () => {
  test('given R1 receives the share, when it lists and gets the resources under its own account, then it sees them', async () => {
    const shareId = await accountShare(h.app, [R1]);
    await addResource(shareId, resourceBody('seen-1'));
    const owner = await resourcesOf(shareId);
    const list = await call(h.app, 'GET', `${resourcesUrl(shareId, '', R1)}?resource_type=gateway-policy`, {
      token: TOKENS.r1,
    });
    assertSuccess(list);
    assert.deepEqual(list.body.result, [owner[1]]);
    assertOnePage(list, 1);
    const one = await call(h.app, 'GET', resourcesUrl(shareId, `/${owner[0]?.id}`, R1), { token: TOKENS.r1 });
    assertSuccess(one);
    assert.deepEqual(one.body.result, owner[0]);
  });

  test('given R3 does not receive the share, when it lists or gets the resources, then 404 Share not found', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const seed = await seedResource(shareId);
    for (const [account, token] of [
      [R3, R3_TOKEN],
      [R2, TOKENS.r2],
      [STRANGER, TOKENS.stranger],
      [OWNER, R3_TOKEN],
    ] as const) {
      assertError(
        await call(h.app, 'GET', resourcesUrl(shareId, '', account), { token }),
        404,
        1404,
        SHARE_NOT_FOUND,
      );
      assertError(
        await call(h.app, 'GET', resourcesUrl(shareId, `/${seed.id}`, account), { token }),
        404,
        1404,
        SHARE_NOT_FOUND,
      );
    }
  });

  test('given R1 receives the share, when it adds, updates or deletes a resource, then 404 Share not found and nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const before = await resourcesOf(shareId);
    const seedId = before[0]?.id as string;
    for (const account of [R1, OWNER]) {
      const opts = { token: TOKENS.r1 };
      assertError(
        await call(h.app, 'POST', resourcesUrl(shareId, '', account), {
          ...opts,
          body: { ...resourceBody('r1-1'), resource_account_id: account },
        }),
        404,
        1404,
        SHARE_NOT_FOUND,
      );
      assertError(
        await call(h.app, 'PUT', resourcesUrl(shareId, `/${seedId}`, account), {
          ...opts,
          body: { meta: { x: 1 } },
        }),
        404,
        1404,
        SHARE_NOT_FOUND,
      );
      assertError(
        await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seedId}`, account), opts),
        404,
        1404,
        SHARE_NOT_FOUND,
      );
    }
    assert.deepEqual(await resourcesOf(shareId), before);
  });

  test('given R1 was removed from the share, when it lists the resources, then 404 Share not found', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const res = await call(h.app, 'PUT', `${base()}/${shareId}/recipients`, {
      body: [{ recipient_account_id: R2 }],
    });
    assert.equal(res.status, 204);
    assertError(
      await call(h.app, 'GET', resourcesUrl(shareId, '', R1), { token: TOKENS.r1 }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
    assertSuccess(await call(h.app, 'GET', resourcesUrl(shareId, '', R2), { token: TOKENS.r2 }));
  });

  test('given an organization share, when a member lists its resources, then it sees them', async () => {
    const created = await call(h.app, 'POST', base(), {
      body: { ...seedShareBody(), recipients: [{ organization_id: hexId(1, 'a') }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const shareId = created.body.result.id as string;
    await fanOut(h, shareId); // the member's recipient comes from the reconciler
    const res = await call(h.app, 'GET', resourcesUrl(shareId, '', R2), { token: TOKENS.r2 });
    assertSuccess(res);
    assert.deepEqual(res.body.result, await resourcesOf(shareId));
  });
});

describe('resources of a deleted share', () => {
  test('given a share being deleted, when changing its resources, then every change is 409 and resources are deleting', async () => {
    const shareId = await accountShare(h.app);
    const seed = await seedResource(shareId);
    const del = await call(h.app, 'DELETE', `${base()}/${shareId}`);
    assertSuccess(del);
    const before = await resourcesOf(shareId);
    assert.deepEqual(
      before.map((r) => [r.id, r.status, r.resource_version]),
      [[seed.id, 'deleting', 1]],
    );
    h.clock.advance(1000);
    assertConflict(
      await call(h.app, 'POST', resourcesUrl(shareId), { body: resourceBody('late') }),
      SHARE_DELETING,
    );
    assertConflict(
      await call(h.app, 'PUT', resourcesUrl(shareId, `/${seed.id}`), { body: { meta: { x: 1 } } }),
      SHARE_DELETING,
    );
    assertConflict(await call(h.app, 'DELETE', resourcesUrl(shareId, `/${seed.id}`)), SHARE_DELETING);
    assert.deepEqual(await resourcesOf(shareId), before);
    const got = await call(h.app, 'GET', resourcesUrl(shareId, `/${seed.id}`));
    assertSuccess(got);
    assert.deepEqual(got.body.result, before[0]);
  });
});

describe('ResourcesService under writers that never stop', () => {
  test(
    'given a resource whose every versioned write finds it changed again, when updating or deleting it, then after WRITE_ATTEMPTS plans 409 1409 that SDKs retry, and nothing is written',
    { timeout: 20_000 },
    async () => {
      const shareId = await accountShare(h.app);
      const { id } = await seedResource(shareId);
      const resources = h.store.resources;
      const before = await resources.get(shareId, id);
      const audited = async () =>
        Number((await h.sql('SELECT COUNT(*) AS n FROM audit_logs WHERE share_id = ?', shareId))[0]?.n);
      const entries = await audited();
      const { updateMeta, markDeleting } = resources;
      let writes = 0;
      resources.updateMeta = async () => (writes++, 'stale');
      resources.markDeleting = async () => (writes++, 'stale');
      try {
        for (const [method, body] of [
          ['PUT', { meta: { by: 'contended' } }],
          ['DELETE', undefined],
        ] as const) {
          writes = 0;
          const res = await call(h.app, method, resourcesUrl(shareId, `/${id}`), body ? { body } : {});
          assertError(
            res,
            409,
            1409,
            'The resource kept changing during this request; nothing was written, try again',
          );
          assert.equal(res.headers['x-should-retry'], 'true', method);
          assert.equal(writes, WRITE_ATTEMPTS, method);
        }
      } finally {
        resources.updateMeta = updateMeta;
        resources.markDeleting = markDeleting;
      }
      assert.deepEqual(await resources.get(shareId, id), before);
      assert.equal(await audited(), entries);
    },
  );
});

describe('ResourcesStore versioned writes', () => {
  test('given a resource changed since it was read, when updateMeta or markDeleting writes from the old read, then stale and neither the change nor its audit entry is written; from a fresh read, then written', async () => {
    const shareId = await accountShare(h.app);
    const { id } = await seedResource(shareId);
    const resources = h.store.resources;
    const now = h.clock.timestamp();
    const entry = () =>
      auditEntry(CLI_ACTOR, now, {
        account: { id: OWNER, organization_id: ORG },
        action: 'update',
        description: 'Update share resource',
        resource: { type: 'share_resource', id },
        metadata: { share_id: shareId },
      });
    const entries = async () =>
      Number((await h.sql('SELECT COUNT(*) AS n FROM audit_logs WHERE share_id = ?', shareId))[0]?.n);
    const read = await resources.get(shareId, id);
    assert.ok(read);
    const moved = await resources.updateMeta(read, { by: 'other' }, now, [entry()]);
    assert.ok(moved !== 'inactive' && moved !== 'stale');
    assert.equal(moved.resource_version, read.resource_version + 1);
    const audited = await entries();

    assert.equal(await resources.updateMeta(read, { by: 'stale' }, now, [entry()]), 'stale');
    assert.equal(await resources.markDeleting(read, now, [entry()]), 'stale');
    assert.deepEqual(await resources.get(shareId, id), moved);
    assert.equal(await entries(), audited);

    const deleting = await resources.markDeleting(moved, now, [entry()]);
    assert.ok(deleting !== 'inactive' && deleting !== 'stale');
    assert.equal(deleting.status, 'deleting');
    assert.equal(await entries(), audited + 1);
    assert.equal(await resources.updateMeta(deleting, { late: true }, now, [entry()]), 'inactive');
    assert.equal(await entries(), audited + 1);
  });
});
