import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertError,
  assertErrors,
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
  ID,
  TIMESTAMP,
  SHARE_NOT_FOUND,
  SHARE_DELETING,
  routeErrors,
} from './helpers.js';
import { assertBodiesRefused, assertQueriesRefused } from './support/refused.js';
import { assertIdsNotFound, type IdCall } from './support/not-found.js';
import { assertConflict, assertPageInfo, assertSuccess, nonEmpty } from './support/assert.js';
import {
  accountShare,
  addMember,
  organizationShare,
  recipientsOf,
  statuses,
  type Recipient,
} from './support/shares.js';

const EXCLUSION_NOT_FOUND = 'Share excluded recipient not found';
const NOT_ORG_SHARE = 'Excluded recipients apply only to shares with target_type=organization';
const OWNER_EXCLUDED = 'The share owner account cannot be excluded';
const notMember = (account: string) => `Account ${account} is not a member of the share owner's organization`;

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => {
  await h.close();
});

interface Exclusion {
  id: string;
  account_id: string;
  created: string;
  modified: string;
}

const excludedUrl = (shareId: string, suffix = '', account = OWNER) =>
  `${base(account)}/${shareId}/excluded-recipients${suffix}`;

async function exclude(shareId: string, account: string): Promise<Exclusion> {
  const res = await call(h.app, 'POST', excludedUrl(shareId), { body: { account_id: account } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.result as Exclusion;
}

/** Every exclusion of the share (one page of 100), keyed by account. */
async function exclusionsOf(shareId: string): Promise<Map<string, Exclusion>> {
  const res = await call(h.app, 'GET', excludedUrl(shareId, '?per_page=100'));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return new Map((res.body.result as Exclusion[]).map((e) => [e.account_id, e]));
}

/** Whether `account` currently sees the share in its received list. */
async function receives(shareId: string, account: string, token: string): Promise<boolean> {
  const res = await call(h.app, 'GET', `${base(account)}?kind=received&per_page=100`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.result as { id: string }[]).some((s) => s.id === shareId);
}

function assertExclusion(e: Exclusion, account: string): void {
  assert.deepEqual(Object.keys(e).sort(), ['account_id', 'created', 'id', 'modified']);
  assert.match(e.id, ID);
  assert.equal(e.account_id, account);
  assert.match(e.created, TIMESTAMP);
  assert.match(e.modified, TIMESTAMP);
}

describe('excluded recipients on an account-targeted share', () => {
  test('given an account share, when calling any excluded-recipients operation, then 400 with a pointer to the share id', async () => {
    const shareId = await accountShare(h.app);
    const before = await recipientsOf(h.app, shareId);
    const id = hexId(0xe1);
    const calls: Reply[] = [
      await call(h.app, 'GET', excludedUrl(shareId)),
      await call(h.app, 'GET', excludedUrl(shareId, `/${id}`)),
      await call(h.app, 'POST', excludedUrl(shareId), { body: { account_id: R1 } }),
      await call(h.app, 'PUT', excludedUrl(shareId), { body: [{ account_id: R1 }] }),
      await call(h.app, 'DELETE', excludedUrl(shareId, `/${id}`)),
    ];
    for (const res of calls) assertError(res, 400, 1400, NOT_ORG_SHARE, '/path/share_id');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
    assert.ok(await receives(shareId, R1, TOKENS.r1));
  });
});

describe('POST /shares/{share_id}/excluded-recipients', () => {
  test('given an organization member, when excluding it, then 201 and its recipient is disassociating and it no longer receives the share', async () => {
    const shareId = await organizationShare(h);
    const recipientsBefore = await recipientsOf(h.app, shareId);
    assert.ok(await receives(shareId, R1, TOKENS.r1));
    h.clock.advance(1000);
    const res = await call(h.app, 'POST', excludedUrl(shareId), { body: { account_id: R1 } });
    assertSuccess(res, 201);
    assertExclusion(res.body.result, R1);
    assert.equal(res.body.result.created, res.body.result.modified);
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'disassociating',
      [R2]: 'associating',
      [R3]: 'associating',
    });
    const r1 = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    assert.equal(r1.id, recipientsBefore.get(R1)?.id);
    assert.ok(r1.modified > (recipientsBefore.get(R1)?.modified ?? ''));
    assert.deepEqual((await recipientsOf(h.app, shareId)).get(R2), recipientsBefore.get(R2));
    assert.equal(await receives(shareId, R1, TOKENS.r1), false);
    assert.ok(await receives(shareId, R2, TOKENS.r2));
    assertError(
      await call(h.app, 'GET', `${base(R1)}/${shareId}`, { token: TOKENS.r1 }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
    const list = await exclusionsOf(shareId);
    assert.deepEqual([...list.values()], [res.body.result]);
  });

  test('given an account already excluded, when excluding it again, then 409 and nothing changes', async () => {
    const shareId = await organizationShare(h);
    await exclude(shareId, R1);
    const before = await exclusionsOf(shareId);
    const recipients = await recipientsOf(h.app, shareId);
    const res = await call(h.app, 'POST', excludedUrl(shareId), { body: { account_id: R1 } });
    assertConflict(res, `Account ${R1} is already excluded from the share`);
    assert.deepEqual(await exclusionsOf(shareId), before);
    assert.deepEqual(await recipientsOf(h.app, shareId), recipients);
  });

  test('given the owner or an account outside the organization, when excluding it, then 400 with a pointer to account_id', async () => {
    const shareId = await organizationShare(h);
    const recipients = await recipientsOf(h.app, shareId);
    const unknown = hexId(0x999, 'b');
    const cases: [unknown, string, string][] = [
      [{ account_id: OWNER }, OWNER_EXCLUDED, '/account_id'],
      [{ account_id: STRANGER }, notMember(STRANGER), '/account_id'],
      [{ account_id: LONER }, notMember(LONER), '/account_id'],
      [{ account_id: unknown }, notMember(unknown), '/account_id'],
      [{}, 'account_id is required', '/account_id'],
      [{ account_id: '' }, 'account_id must not be empty', '/account_id'],
      [{ account_id: 'a'.repeat(33) }, 'account_id must be at most 32 characters', '/account_id'],
      [[{ account_id: R1 }], 'body must be an object', ''],
    ];
    await assertBodiesRefused(h.app, 'POST', excludedUrl(shareId), cases);
    assert.deepEqual(await exclusionsOf(shareId), new Map());
    assert.deepEqual(await recipientsOf(h.app, shareId), recipients);
  });

  test('given an unknown share, when excluding, then 404 Share not found', async () => {
    const res = await call(h.app, 'POST', excludedUrl(hexId(0xdead)), { body: { account_id: R1 } });
    assertError(res, 404, 1404, SHARE_NOT_FOUND);
  });

  test('given a read-only token, when excluding, then 403 and nothing changes', async () => {
    const shareId = await organizationShare(h);
    const res = await call(h.app, 'POST', excludedUrl(shareId), {
      token: TOKENS.ownerRead,
      body: { account_id: R1 },
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await exclusionsOf(shareId), new Map());
    assert.equal((await statuses(h.app, shareId))[R1], 'associating');
  });
});

describe('DELETE /shares/{share_id}/excluded-recipients/{excluded_recipient_id}', () => {
  test('given an exclusion, when deleting it, then 200 with the object and the account is associating again and receives the share', async () => {
    const shareId = await organizationShare(h);
    const recipientBefore = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    const excluded = await exclude(shareId, R1);
    await exclude(shareId, R2);
    h.clock.advance(1000);
    const res = await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`));
    assertSuccess(res);
    assert.deepEqual(res.body.result, excluded);
    assert.deepEqual([...(await exclusionsOf(shareId)).keys()], [R2]);
    assertError(
      await call(h.app, 'GET', excludedUrl(shareId, `/${excluded.id}`)),
      404,
      1404,
      EXCLUSION_NOT_FOUND,
    );
    const r1 = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    assert.equal(r1.id, recipientBefore.id);
    assert.equal(r1.association_status, 'associating');
    assert.equal(r1.created, recipientBefore.created);
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'associating',
      [R2]: 'disassociating',
      [R3]: 'associating',
    });
    assert.ok(await receives(shareId, R1, TOKENS.r1));
    assert.equal(await receives(shareId, R2, TOKENS.r2), false);
  });

  test('given an exclusion already deleted, when deleting it again, then 404 Share excluded recipient not found', async () => {
    const shareId = await organizationShare(h);
    const excluded = await exclude(shareId, R1);
    assertSuccess(await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`)));
    assertError(
      await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`)),
      404,
      1404,
      EXCLUSION_NOT_FOUND,
    );
  });

  test('given an unknown exclusion id, when deleting, then 404 Share excluded recipient not found', async () => {
    const shareId = await organizationShare(h);
    const url = (id: string) => excludedUrl(shareId, `/${id}`);
    await assertIdsNotFound(h.app, url, [hexId(0xbeef)], [{ method: 'DELETE' }], EXCLUSION_NOT_FOUND);
  });

  test('given a read-only token, when deleting an exclusion, then 403 and nothing changes', async () => {
    const shareId = await organizationShare(h);
    const excluded = await exclude(shareId, R1);
    const res = await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`), {
      token: TOKENS.ownerRead,
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual([...(await exclusionsOf(shareId)).values()], [excluded]);
    assert.equal((await statuses(h.app, shareId))[R1], 'disassociating');
  });
});

describe('PUT /shares/{share_id}/excluded-recipients', () => {
  test('given a new list, when replacing, then 204, new accounts excluded, missing ones included again, kept ones untouched', async () => {
    const shareId = await organizationShare(h);
    const r1 = await exclude(shareId, R1);
    const r2 = await exclude(shareId, R2);
    const recipientsBefore = await recipientsOf(h.app, shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', excludedUrl(shareId), {
      body: [{ account_id: R2 }, { account_id: R3 }],
    });
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    const list = await exclusionsOf(shareId);
    assert.deepEqual([...list.keys()].sort(), [R2, R3]);
    assert.deepEqual(list.get(R2), r2);
    const r3 = list.get(R3) as Exclusion;
    assertExclusion(r3, R3);
    assert.notEqual(r3.id, r1.id);
    assert.ok(r3.created > r2.created);
    assertError(await call(h.app, 'GET', excludedUrl(shareId, `/${r1.id}`)), 404, 1404, EXCLUSION_NOT_FOUND);
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'associating',
      [R2]: 'disassociating',
      [R3]: 'disassociating',
    });
    const recipients = await recipientsOf(h.app, shareId);
    assert.deepEqual(recipients.get(R2), recipientsBefore.get(R2));
    assert.equal(recipients.get(R1)?.id, recipientsBefore.get(R1)?.id);
    assert.ok(await receives(shareId, R1, TOKENS.r1));
    assert.equal(await receives(shareId, R2, TOKENS.r2), false);
  });

  test('given an empty list, when replacing, then every exclusion is removed and every member is associating', async () => {
    const shareId = await organizationShare(h);
    await exclude(shareId, R1);
    await exclude(shareId, R3);
    const res = await call(h.app, 'PUT', excludedUrl(shareId), { body: [] });
    assert.equal(res.status, 204);
    assert.deepEqual(await exclusionsOf(shareId), new Map());
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'associating',
      [R2]: 'associating',
      [R3]: 'associating',
    });
  });

  test('given the same list again, when replacing, then nothing changes', async () => {
    const shareId = await organizationShare(h);
    await exclude(shareId, R1);
    const before = await exclusionsOf(shareId);
    const recipients = await recipientsOf(h.app, shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', excludedUrl(shareId), { body: [{ account_id: R1 }] });
    assert.equal(res.status, 204);
    assert.deepEqual(await exclusionsOf(shareId), before);
    assert.deepEqual(await recipientsOf(h.app, shareId), recipients);
  });

  test('given invalid items, when replacing, then 400 pointing at the item and nothing changes', async () => {
    const shareId = await organizationShare(h);
    await exclude(shareId, R1);
    const before = await exclusionsOf(shareId);
    const recipients = await recipientsOf(h.app, shareId);
    const cases: [unknown, string, string][] = [
      [[{ account_id: R2 }, { account_id: R2 }], `Account ${R2} is listed twice`, '/1/account_id'],
      [[{ account_id: R2 }, { account_id: STRANGER }], notMember(STRANGER), '/1/account_id'],
      [[{ account_id: LONER }], notMember(LONER), '/0/account_id'],
      [[{ account_id: R2 }, { account_id: OWNER }], OWNER_EXCLUDED, '/1/account_id'],
      [[{ account_id: R2 }, {}], 'account_id is required', '/1/account_id'],
      [{ account_id: R2 }, 'body must be an array', ''],
    ];
    await assertBodiesRefused(h.app, 'PUT', excludedUrl(shareId), cases);
    assert.deepEqual(await exclusionsOf(shareId), before);
    assert.deepEqual(await recipientsOf(h.app, shareId), recipients);
  });

  test('given an unknown share, when replacing exclusions, then 404 Share not found', async () => {
    assertError(
      await call(h.app, 'PUT', excludedUrl(hexId(0xdead)), { body: [] }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
  });
});

describe('GET /shares/{share_id}/excluded-recipients', () => {
  test('given no exclusions, when listing, then an empty first page', async () => {
    const shareId = await organizationShare(h);
    const res = await call(h.app, 'GET', excludedUrl(shareId));
    assertSuccess(res);
    assert.deepEqual(res.body.result, []);
    assertPageInfo(res, 1, 20, 0, 0, 0);
  });

  test('given three exclusions, when paging with per_page=2, then they come in creation order over two pages', async () => {
    const shareId = await organizationShare(h);
    const made: Exclusion[] = [];
    for (const account of [R2, R1, R3]) {
      h.clock.advance(10);
      made.push(await exclude(shareId, account));
    }
    const p1 = await call(h.app, 'GET', excludedUrl(shareId, '?page=1&per_page=2'));
    assertSuccess(p1);
    assert.deepEqual(p1.body.result, made.slice(0, 2));
    assert.deepEqual(p1.body.result_info, { page: 1, per_page: 2, count: 2, total_count: 3, total_pages: 2 });
    const p2 = await call(h.app, 'GET', excludedUrl(shareId, '?page=2&per_page=2'));
    assertSuccess(p2);
    assert.deepEqual(p2.body.result, made.slice(2));
    assert.deepEqual(p2.body.result_info, { page: 2, per_page: 2, count: 1, total_count: 3, total_pages: 2 });
    const all = await call(h.app, 'GET', excludedUrl(shareId));
    assertSuccess(all);
    assert.deepEqual(all.body.result, made);
  });

  test('given invalid paging, when listing, then 400 with a pointer to the query parameter', async () => {
    const shareId = await organizationShare(h);
    await assertQueriesRefused(h.app, (q) => excludedUrl(shareId, q), [
      ['?per_page=101', 'per_page must be at most 100', '/query/per_page'],
      ['?page=0', 'page must be at least 1', '/query/page'],
    ]);
  });

  test('given an unknown share, when listing exclusions, then 404 Share not found', async () => {
    assertError(await call(h.app, 'GET', excludedUrl(hexId(0xdead))), 404, 1404, SHARE_NOT_FOUND);
  });
});

describe('GET /shares/{share_id}/excluded-recipients/{excluded_recipient_id}', () => {
  test('given an exclusion id, when getting it, then the exclusion is returned', async () => {
    const shareId = await organizationShare(h);
    const excluded = await exclude(shareId, R3);
    const res = await call(h.app, 'GET', excludedUrl(shareId, `/${excluded.id}`));
    assertSuccess(res);
    assert.deepEqual(res.body.result, excluded);
  });

  test('given an unknown id or one of another share, when getting it, then 404 Share excluded recipient not found', async () => {
    const shareId = await organizationShare(h);
    const other = await organizationShare(h);
    const foreign = await exclude(other, R1);
    const url = (id: string) => excludedUrl(shareId, `/${id}`);
    const calls: IdCall[] = [{ method: 'GET' }, { method: 'DELETE' }];
    await assertIdsNotFound(h.app, url, [hexId(0xbeef), foreign.id], calls, EXCLUSION_NOT_FOUND);
    assert.deepEqual([...(await exclusionsOf(other)).values()], [foreign]);
  });

  test('given an id longer than 32 characters, when getting it, then 400 7003 + 7000 naming the path', async () => {
    const url = excludedUrl(await organizationShare(h), `/${'a'.repeat(33)}`);
    assertErrors(await call(h.app, 'GET', url), 400, routeErrors(url));
  });
});

describe('excluded-recipients endpoints and who may call them', () => {
  test('given a recipient of the organization share, when it calls any excluded-recipients endpoint, then 404 Share not found', async () => {
    const shareId = await organizationShare(h);
    const excluded = await exclude(shareId, R3);
    for (const account of [R1, OWNER]) {
      const opts = { token: TOKENS.r1 };
      const calls: Reply[] = [
        await call(h.app, 'GET', excludedUrl(shareId, '', account), opts),
        await call(h.app, 'GET', excludedUrl(shareId, `/${excluded.id}`, account), opts),
        await call(h.app, 'POST', excludedUrl(shareId, '', account), { ...opts, body: { account_id: R2 } }),
        await call(h.app, 'PUT', excludedUrl(shareId, '', account), { ...opts, body: [] }),
        await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`, account), opts),
      ];
      for (const res of calls) assertError(res, 404, 1404, SHARE_NOT_FOUND);
    }
    assert.deepEqual([...(await exclusionsOf(shareId)).values()], [excluded]);
  });

  test('given a read-only owner token, when listing and getting exclusions, then they are returned', async () => {
    const shareId = await organizationShare(h);
    const excluded = await exclude(shareId, R2);
    const list = await call(h.app, 'GET', excludedUrl(shareId), { token: TOKENS.ownerRead });
    assertSuccess(list);
    assert.deepEqual(list.body.result, [excluded]);
    const one = await call(h.app, 'GET', excludedUrl(shareId, `/${excluded.id}`), {
      token: TOKENS.ownerRead,
    });
    assertSuccess(one);
    assert.deepEqual(one.body.result, excluded);
  });
});

describe('excluded recipients of a deleted share', () => {
  test('given an organization share being deleted, when changing its exclusions, then every change is 409 and reads still work', async () => {
    const shareId = await organizationShare(h);
    const excluded = await exclude(shareId, R1);
    const del = await call(h.app, 'DELETE', `${base()}/${shareId}`);
    assertSuccess(del);
    assert.equal(del.body.result.status, 'deleting');
    const recipients = await recipientsOf(h.app, shareId);
    for (const r of nonEmpty(recipients.values(), 'recipients'))
      assert.equal(r.association_status, 'disassociating');
    assertConflict(
      await call(h.app, 'POST', excludedUrl(shareId), { body: { account_id: R2 } }),
      SHARE_DELETING,
    );
    assertConflict(await call(h.app, 'PUT', excludedUrl(shareId), { body: [] }), SHARE_DELETING);
    assertConflict(await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`)), SHARE_DELETING);
    assert.deepEqual([...(await exclusionsOf(shareId)).values()], [excluded]);
    assert.deepEqual(await recipientsOf(h.app, shareId), recipients);
    const one = await call(h.app, 'GET', excludedUrl(shareId, `/${excluded.id}`));
    assertSuccess(one);
    assert.deepEqual(one.body.result, excluded);
  });
});

describe('excluded recipients and organization membership changes', () => {
  // This test adds an account to ORG, which every later organization share would include: give it its own database.
  let outer: Harness;
  before(async () => {
    outer = h;
    h = await setup();
  });
  after(async () => {
    await h.close();
    h = outer;
  });

  test('given an account that joined the organization after the share was created, when it is excluded and included again, then it gets an associating recipient', async () => {
    const shareId = await organizationShare(h);
    const newcomer = hexId(0x77, 'b');
    await addMember(h, newcomer, 'Newcomer');
    assert.equal((await recipientsOf(h.app, shareId)).has(newcomer), false);
    const excluded = await exclude(shareId, newcomer);
    assertExclusion(excluded, newcomer);
    assert.equal((await recipientsOf(h.app, shareId)).has(newcomer), false);
    assertSuccess(await call(h.app, 'DELETE', excludedUrl(shareId, `/${excluded.id}`)));
    const r = (await recipientsOf(h.app, shareId)).get(newcomer) as Recipient;
    assert.match(r.id, ID);
    assert.equal(r.association_status, 'associating');
  });

  test('given an excluded account that has since left the organization, when its exclusion is removed, then it is not associated again', async () => {
    const shareId = await organizationShare(h);
    const leaver = hexId(0x78, 'b');
    const joined = h.clock.timestamp();
    const account = { id: leaver, name: 'Leaver', entitlements: null, created: joined, modified: joined };
    await h.store.tenancy.upsertAccount({ ...account, organization_id: ORG });
    const other = await organizationShare(h);
    assert.equal((await recipientsOf(h.app, shareId)).has(leaver), false);
    assert.equal((await recipientsOf(h.app, other)).get(leaver)?.association_status, 'associating');
    const first = await exclude(shareId, leaver);
    const second = await exclude(other, leaver);
    await h.store.tenancy.upsertAccount({
      ...account,
      organization_id: OTHER_ORG,
      modified: h.clock.timestamp(),
    });
    assertSuccess(await call(h.app, 'DELETE', excludedUrl(shareId, `/${first.id}`)));
    assert.equal((await recipientsOf(h.app, shareId)).has(leaver), false);
    assert.equal((await call(h.app, 'PUT', excludedUrl(other), { body: [] })).status, 204);
    assert.equal((await recipientsOf(h.app, other)).get(leaver)?.association_status, 'disassociating');
    assert.deepEqual(await exclusionsOf(shareId), new Map());
    assert.deepEqual(await exclusionsOf(other), new Map());
    assert.equal(second.account_id, leaver);
  });
});
