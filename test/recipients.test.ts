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
import { assertConflict, assertOnePage, assertSuccess, nonEmpty } from './support/assert.js';
import { assertBodiesRefused, assertQueriesRefused } from './support/refused.js';
import { assertIdsNotFound } from './support/not-found.js';
import {
  accountShare,
  organizationShare,
  recipientsOf,
  recipientsUrl,
  statuses,
  type Recipient,
} from './support/shares.js';

const RECIPIENT_NOT_FOUND = 'Share recipient not found';
const ORG_SHARE =
  'The share targets the whole organization; its recipients cannot be edited (use excluded recipients)';
const ORG_SHARE_DELETE =
  'Recipients of an organization-targeted share follow the organization; exclude the account instead';
const notMember = (account: string) => `Account ${account} is not a member of the share owner's organization`;
const OWN_ACCOUNT = 'A share cannot be shared with its owner account';

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => {
  await h.close();
});

/** Ids of the shares `account` currently receives. */
async function received(account: string, token: string): Promise<string[]> {
  const res = await call(h.app, 'GET', `${base(account)}?kind=received&per_page=100`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.result as { id: string }[]).map((s) => s.id);
}

async function deleteShare(shareId: string): Promise<void> {
  const res = await call(h.app, 'DELETE', `${base()}/${shareId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.result.status, 'deleting');
}

function assertRecipient(r: Recipient, account: string, status: string): void {
  assert.match(r.id, ID);
  assert.equal(r.account_id, account);
  assert.equal(r.association_status, status);
  assert.match(r.created, TIMESTAMP);
  assert.match(r.modified, TIMESTAMP);
}

describe('GET /shares/{share_id}/recipients', () => {
  test('given an account share with two recipients, when listing, then both are associating with no resources key', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const res = await call(h.app, 'GET', recipientsUrl(shareId));
    assertSuccess(res);
    assertOnePage(res, 2);
    const list = res.body.result as Recipient[];
    assert.deepEqual(list.map((r) => r.account_id).sort(), [R1, R2]);
    for (const r of list) {
      assertRecipient(r, r.account_id, 'associating');
      assert.equal(r.created, r.modified);
      assert.equal('resources' in r, false);
    }
    assert.notEqual(list[0]?.id, list[1]?.id);
  });

  test('given a removed recipient, when listing, then it is still listed as disassociating next to the others', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const before = await recipientsOf(h.app, shareId);
    const del = await call(h.app, 'DELETE', recipientsUrl(shareId, `/${before.get(R1)?.id}`));
    assertSuccess(del);
    const res = await call(h.app, 'GET', recipientsUrl(shareId));
    assertSuccess(res);
    assert.equal(res.body.result_info.total_count, 2);
    const list = new Map((res.body.result as Recipient[]).map((r) => [r.account_id, r]));
    assert.equal(list.get(R1)?.association_status, 'disassociating');
    assert.equal(list.get(R1)?.id, before.get(R1)?.id);
    assert.equal(list.get(R2)?.association_status, 'associating');
  });

  test('given recipients in every association status, when listing, then all of them are returned with their status', async () => {
    const shareId = await accountShare(h.app, [R1, R2, R3]);
    const ids = await recipientsOf(h.app, shareId);
    for (const account of [R2, R3]) {
      assertSuccess(await call(h.app, 'DELETE', recipientsUrl(shareId, `/${ids.get(account)?.id}`)));
    }
    // What the reconciler does once it has converged a recipient.
    const converge = (status: string, id: string | undefined) =>
      h.sql('UPDATE share_recipients SET status = ? WHERE id = ?', status, id);
    await converge('associated', ids.get(R1)?.id);
    await converge('disassociated', ids.get(R2)?.id);
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'associated',
      [R2]: 'disassociated',
      [R3]: 'disassociating',
    });
    assertConflict(
      await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R1 } }),
      `Account ${R1} is already a recipient of the share`,
    );
    assertConflict(
      await call(h.app, 'DELETE', recipientsUrl(shareId, `/${ids.get(R2)?.id}`)),
      'The recipient is already disassociated',
    );
    const back = await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R2 } });
    assertSuccess(back, 201);
    assert.equal(back.body.result.id, ids.get(R2)?.id);
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'associated',
      [R2]: 'associating',
      [R3]: 'disassociating',
    });
    assert.equal(
      (await call(h.app, 'PUT', recipientsUrl(shareId), { body: [{ recipient_account_id: R2 }] })).status,
      204,
    );
    assert.deepEqual(await statuses(h.app, shareId), {
      [R1]: 'disassociating',
      [R2]: 'associating',
      [R3]: 'disassociating',
    });
  });

  test('given three recipients, when paging with per_page=2, then the pages split them without overlap', async () => {
    const shareId = await accountShare(h.app, [R1, R2, R3]);
    const p1 = await call(h.app, 'GET', recipientsUrl(shareId, '?page=1&per_page=2'));
    assertSuccess(p1);
    assert.deepEqual(p1.body.result_info, { page: 1, per_page: 2, count: 2, total_count: 3, total_pages: 2 });
    const p2 = await call(h.app, 'GET', recipientsUrl(shareId, '?page=2&per_page=2'));
    assertSuccess(p2);
    assert.deepEqual(p2.body.result_info, { page: 2, per_page: 2, count: 1, total_count: 3, total_pages: 2 });
    const seen = [...p1.body.result, ...p2.body.result].map((r: Recipient) => r.account_id).sort();
    assert.deepEqual(seen, [R1, R2, R3]);
    const p3 = await call(h.app, 'GET', recipientsUrl(shareId, '?page=3&per_page=2'));
    assertSuccess(p3);
    assert.deepEqual(p3.body.result, []);
    assert.deepEqual(p3.body.result_info, { page: 3, per_page: 2, count: 0, total_count: 3, total_pages: 2 });
  });

  test('given only page, when listing, then per_page defaults to 20', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'GET', recipientsUrl(shareId, '?page=1'));
    assertSuccess(res);
    assertOnePage(res, 1);
  });

  test('given include_resources=true, when listing, then every recipient has an empty resources array', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const res = await call(h.app, 'GET', recipientsUrl(shareId, '?include_resources=true'));
    assertSuccess(res);
    assert.equal(res.body.result.length, 2);
    for (const r of res.body.result as Recipient[]) assert.deepEqual(r.resources, []);
    const without = await call(h.app, 'GET', recipientsUrl(shareId, '?include_resources=false'));
    assertSuccess(without);
    for (const r of nonEmpty(without.body.result as Recipient[], 'recipients'))
      assert.equal('resources' in r, false);
  });

  test('given delivery state written by the reconciler, when listing with include_resources, then it is reported per recipient', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const recipients = await recipientsOf(h.app, shareId);
    const [resource] = (await h.sql(
      'SELECT id, resource_id FROM share_resources WHERE share_id = ?',
      shareId,
    )) as {
      id: string;
      resource_id: string;
    }[];
    assert.ok(resource);
    await h.sql(
      `INSERT INTO recipient_resources (recipient_id, share_resource_id, applied_version, error, terminal, modified)
       VALUES (?, ?, 1, 'Recipient is missing necessary entitlement', TRUE, ?)`,
      recipients.get(R1)?.id,
      resource.id,
      h.clock.timestamp(),
    );
    const res = await call(h.app, 'GET', recipientsUrl(shareId, '?include_resources=true'));
    assertSuccess(res);
    const byAccount = new Map((res.body.result as Recipient[]).map((r) => [r.account_id, r]));
    assert.deepEqual(byAccount.get(R1)?.resources, [
      {
        resource_id: resource.resource_id,
        resource_version: 1,
        error: 'Recipient is missing necessary entitlement',
        terminal: true,
      },
    ]);
    assert.deepEqual(byAccount.get(R2)?.resources, []);
  });

  test('given invalid query parameters, when listing, then 400 with a pointer to the parameter', async () => {
    const shareId = await accountShare(h.app);
    await assertQueriesRefused(h.app, (q) => recipientsUrl(shareId, q), [
      ['?per_page=0', 'per_page must be at least 1', '/query/per_page'],
      ['?per_page=101', 'per_page must be at most 100', '/query/per_page'],
      ['?page=0', 'page must be at least 1', '/query/page'],
      ['?include_resources=maybe', 'include_resources must be a boolean', '/query/include_resources'],
    ]);
  });

  test('given an unknown share, when listing, then 404 Share not found', async () => {
    assertError(await call(h.app, 'GET', recipientsUrl(hexId(0xdead))), 404, 1404, SHARE_NOT_FOUND);
  });

  test('given a share id longer than 32 characters, when listing, then 400 7003 + 7000 naming the path', async () => {
    const url = recipientsUrl('x'.repeat(33));
    assertErrors(await call(h.app, 'GET', url), 400, routeErrors(url));
  });

  test('given an organization share, when listing, then every organization account but the owner is associating', async () => {
    const shareId = await organizationShare(h);
    const list = await recipientsOf(h.app, shareId);
    assert.deepEqual([...list.keys()].sort(), [R1, R2, R3]);
    for (const [account, r] of list) assertRecipient(r, account, 'associating');
  });
});

describe('GET /shares/{share_id}/recipients/{recipient_id}', () => {
  test('given a recipient id, when getting it, then the recipient is returned without resources', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const listed = (await recipientsOf(h.app, shareId)).get(R2) as Recipient;
    const res = await call(h.app, 'GET', recipientsUrl(shareId, `/${listed.id}`));
    assertSuccess(res);
    assert.deepEqual(res.body.result, listed);
    assertRecipient(res.body.result, R2, 'associating');
    assert.equal('resources' in res.body.result, false);
  });

  test('given include_resources=true, when getting a recipient, then resources is an empty array', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const listed = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    const res = await call(h.app, 'GET', recipientsUrl(shareId, `/${listed.id}?include_resources=true`));
    assertSuccess(res);
    assert.deepEqual(res.body.result, { ...listed, resources: [] });
  });

  test('given an unknown recipient id, when getting it, then 404 Share recipient not found', async () => {
    const shareId = await accountShare(h.app);
    const url = (id: string) => recipientsUrl(shareId, `/${id}`);
    await assertIdsNotFound(h.app, url, [hexId(0xbeef)], [{ method: 'GET' }], RECIPIENT_NOT_FOUND);
  });

  test('given the recipient id of another share, when getting it under this share, then 404 Share recipient not found', async () => {
    const one = await accountShare(h.app, [R1]);
    const other = await accountShare(h.app, [R1]);
    const foreign = (await recipientsOf(h.app, other)).get(R1) as Recipient;
    const url = (id: string) => recipientsUrl(one, `/${id}`);
    await assertIdsNotFound(h.app, url, [foreign.id], [{ method: 'GET' }], RECIPIENT_NOT_FOUND);
  });

  test('given a recipient id longer than 32 characters, when getting it, then 400 7003 + 7000 naming the path', async () => {
    const url = recipientsUrl(await accountShare(h.app), `/${'a'.repeat(33)}`);
    assertErrors(await call(h.app, 'GET', url), 400, routeErrors(url));
  });
});

describe('POST /shares/{share_id}/recipients', () => {
  test('given an organization member, when adding it, then 201 with an associating recipient that is listed and receives the share', async () => {
    const shareId = await accountShare(h.app, [R1]);
    h.clock.advance(1000);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R2 } });
    assertSuccess(res, 201);
    assertRecipient(res.body.result, R2, 'associating');
    assert.equal(res.body.result.created, res.body.result.modified);
    assert.equal('resources' in res.body.result, false);
    const list = await recipientsOf(h.app, shareId);
    assert.deepEqual([...list.keys()].sort(), [R1, R2]);
    assert.deepEqual(list.get(R2), res.body.result);
    assert.notEqual(list.get(R1)?.id, res.body.result.id);
    assert.ok((await received(R2, TOKENS.r2)).includes(shareId));
  });

  test('given the deprecated account_id field, when adding, then it is treated as recipient_account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { account_id: R3 } });
    assertSuccess(res, 201);
    assertRecipient(res.body.result, R3, 'associating');
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()].sort(), [R1, R3]);
  });

  test('given both field names naming the same account, when adding, then it is accepted', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), {
      body: { recipient_account_id: R2, account_id: R2 },
    });
    assertSuccess(res, 201);
    assertRecipient(res.body.result, R2, 'associating');
  });

  test('given both field names naming different accounts, when adding, then 400 with a pointer to account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), {
      body: { recipient_account_id: R2, account_id: R3 },
    });
    assertError(
      res,
      400,
      1400,
      'recipient_account_id and account_id name different accounts; send only recipient_account_id',
      '/account_id',
    );
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given an account that is already an active recipient, when adding it again, then 409 and nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const before = await recipientsOf(h.app, shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R1 } });
    assertConflict(res, `Account ${R1} is already a recipient of the share`);
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given a removed account, when adding it back, then the same record returns to associating', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const original = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    h.clock.advance(1000);
    const del = await call(h.app, 'DELETE', recipientsUrl(shareId, `/${original.id}`));
    assertSuccess(del);
    assert.equal((await received(R1, TOKENS.r1)).includes(shareId), false);
    h.clock.advance(1000);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R1 } });
    assertSuccess(res, 201);
    assert.equal(res.body.result.id, original.id);
    assert.equal(res.body.result.association_status, 'associating');
    assert.equal(res.body.result.created, original.created);
    assert.ok(res.body.result.modified > del.body.result.modified);
    const list = await recipientsOf(h.app, shareId);
    assert.equal(list.size, 1);
    assert.deepEqual(list.get(R1), res.body.result);
    assert.ok((await received(R1, TOKENS.r1)).includes(shareId));
  });

  test('given an account of another organization, when adding it, then 400 with a pointer to recipient_account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), {
      body: { recipient_account_id: STRANGER },
    });
    assertError(res, 400, 1400, notMember(STRANGER), '/recipient_account_id');
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given an account in no organization, when adding it through account_id, then 400 with a pointer to account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { account_id: LONER } });
    assertError(res, 400, 1400, notMember(LONER), '/account_id');
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given an unknown account, when adding it, then 400 with a pointer to recipient_account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const unknown = hexId(0x999, 'b');
    const res = await call(h.app, 'POST', recipientsUrl(shareId), {
      body: { recipient_account_id: unknown },
    });
    assertError(res, 400, 1400, notMember(unknown), '/recipient_account_id');
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given the owner account, when adding it, then 400 with a pointer to recipient_account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: OWNER } });
    assertError(res, 400, 1400, OWN_ACCOUNT, '/recipient_account_id');
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given organization_id in the body, when adding, then 400 with a pointer to organization_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    for (const body of [{ organization_id: ORG }, { organization_id: ORG, recipient_account_id: R2 }]) {
      const res = await call(h.app, 'POST', recipientsUrl(shareId), { body });
      assertError(res, 400, 1400, 'Recipients of an account-targeted share are accounts', '/organization_id');
    }
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given no account, when adding, then 400 with a pointer to recipient_account_id', async () => {
    const shareId = await accountShare(h.app, [R1]);
    await assertBodiesRefused(h.app, 'POST', recipientsUrl(shareId), [
      [{}, 'recipient_account_id is required', '/recipient_account_id'],
      [{ recipient_account_id: '' }, 'recipient_account_id must not be empty', '/recipient_account_id'],
      [
        { recipient_account_id: 'a'.repeat(33) },
        'recipient_account_id must be at most 32 characters',
        '/recipient_account_id',
      ],
      [[{ recipient_account_id: R2 }], 'body must be an object', ''],
    ]);
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given an organization share, when adding a recipient, then 400 with a pointer to the share id', async () => {
    const shareId = await organizationShare(h);
    const before = await recipientsOf(h.app, shareId);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R1 } });
    assertError(res, 400, 1400, ORG_SHARE, '/path/share_id');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given an unknown share, when adding a recipient, then 404 Share not found', async () => {
    const res = await call(h.app, 'POST', recipientsUrl(hexId(0xdead)), {
      body: { recipient_account_id: R1 },
    });
    assertError(res, 404, 1404, SHARE_NOT_FOUND);
  });

  test('given a read-only token, when adding a recipient, then 403 and nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'POST', recipientsUrl(shareId), {
      token: TOKENS.ownerRead,
      body: { recipient_account_id: R2 },
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });
});

describe('PUT /shares/{share_id}/recipients', () => {
  test('given a new list, when replacing, then 204 and new accounts are added, missing ones disassociating, kept ones untouched', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const before = await recipientsOf(h.app, shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), {
      body: [{ recipient_account_id: R2 }, { recipient_account_id: R3 }],
    });
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    const list = await recipientsOf(h.app, shareId);
    assert.deepEqual([...list.keys()].sort(), [R1, R2, R3]);
    assert.deepEqual(list.get(R2), before.get(R2));
    const r1 = list.get(R1) as Recipient;
    assert.equal(r1.id, before.get(R1)?.id);
    assert.equal(r1.association_status, 'disassociating');
    assert.equal(r1.created, before.get(R1)?.created);
    assert.ok(r1.modified > (before.get(R1)?.modified ?? ''));
    const r3 = list.get(R3) as Recipient;
    assertRecipient(r3, R3, 'associating');
    assert.equal(r3.created, r3.modified);
    assert.ok(r3.created > (before.get(R2)?.created ?? ''));
    assert.equal((await received(R1, TOKENS.r1)).includes(shareId), false);
  });

  test('given the same list again, when replacing, then nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const before = await recipientsOf(h.app, shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), {
      body: [{ recipient_account_id: R1 }, { account_id: R2 }],
    });
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given a removed account listed again, when replacing, then its record returns to associating', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    h.clock.advance(1000);
    assert.equal(
      (await call(h.app, 'PUT', recipientsUrl(shareId), { body: [{ recipient_account_id: R2 }] })).status,
      204,
    );
    const removed = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    assert.equal(removed.association_status, 'disassociating');
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), {
      body: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
    });
    assert.equal(res.status, 204);
    const list = await recipientsOf(h.app, shareId);
    assert.equal(list.size, 2);
    const r1 = list.get(R1) as Recipient;
    assert.equal(r1.id, removed.id);
    assert.equal(r1.association_status, 'associating');
    assert.equal(r1.created, removed.created);
    assert.ok(r1.modified > removed.modified);
    assert.ok((await received(R1, TOKENS.r1)).includes(shareId));
  });

  test('given the deprecated account_id field, when replacing, then it names the account', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), { body: [{ account_id: R3 }] });
    assert.equal(res.status, 204);
    const list = await recipientsOf(h.app, shareId);
    assert.equal(list.get(R1)?.association_status, 'disassociating');
    assert.equal(list.get(R3)?.association_status, 'associating');
  });

  test('given an empty list, when replacing, then every recipient is disassociating', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), { body: [] });
    assert.equal(res.status, 204);
    const list = await recipientsOf(h.app, shareId);
    assert.equal(list.size, 2);
    for (const r of list.values()) assert.equal(r.association_status, 'disassociating');
  });

  test('given an account listed twice, when replacing, then 400 pointing at the second one and nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const before = await recipientsOf(h.app, shareId);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), {
      body: [{ recipient_account_id: R2 }, { recipient_account_id: R2 }],
    });
    assertError(res, 400, 1400, `Account ${R2} is listed twice`, '/1/recipient_account_id');
    const alias = await call(h.app, 'PUT', recipientsUrl(shareId), {
      body: [{ recipient_account_id: R2 }, { account_id: R2 }],
    });
    assertError(alias, 400, 1400, `Account ${R2} is listed twice`, '/1/account_id');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given accounts that cannot receive the share, when replacing, then 400 pointing at the item and nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const before = await recipientsOf(h.app, shareId);
    const cases: [unknown[], string, string][] = [
      [
        [{ recipient_account_id: R2 }, { recipient_account_id: STRANGER }],
        notMember(STRANGER),
        '/1/recipient_account_id',
      ],
      [[{ recipient_account_id: R2 }, { account_id: LONER }], notMember(LONER), '/1/account_id'],
      [[{ recipient_account_id: OWNER }], OWN_ACCOUNT, '/0/recipient_account_id'],
      [[{ recipient_account_id: R2 }, {}], 'recipient_account_id is required', '/1/recipient_account_id'],
      [
        [{ recipient_account_id: R2 }, { organization_id: ORG }],
        'Recipients of an account-targeted share are accounts',
        '/1/organization_id',
      ],
      [
        [{ recipient_account_id: R2, account_id: R3 }],
        'recipient_account_id and account_id name different accounts; send only recipient_account_id',
        '/0/account_id',
      ],
      [[{ recipient_account_id: '' }], 'recipient_account_id must not be empty', '/0/recipient_account_id'],
    ];
    await assertBodiesRefused(h.app, 'PUT', recipientsUrl(shareId), cases);
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given a body that is not an array, when replacing, then 400 with a pointer to the body', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), { body: { recipient_account_id: R2 } });
    assertError(res, 400, 1400, 'body must be an array', '');
    const tooMany = Array.from({ length: 1001 }, () => ({ recipient_account_id: R2 }));
    assertError(
      await call(h.app, 'PUT', recipientsUrl(shareId), { body: tooMany }),
      400,
      1400,
      'body must have at most 1000 items',
      '',
    );
    assert.deepEqual([...(await recipientsOf(h.app, shareId)).keys()], [R1]);
  });

  test('given an organization share, when replacing recipients, then 400 with a pointer to the share id', async () => {
    const shareId = await organizationShare(h);
    const before = await recipientsOf(h.app, shareId);
    const res = await call(h.app, 'PUT', recipientsUrl(shareId), { body: [{ recipient_account_id: R1 }] });
    assertError(res, 400, 1400, ORG_SHARE, '/path/share_id');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given an unknown share, when replacing recipients, then 404 Share not found', async () => {
    const res = await call(h.app, 'PUT', recipientsUrl(hexId(0xdead)), { body: [] });
    assertError(res, 404, 1404, SHARE_NOT_FOUND);
  });
});

describe('DELETE /shares/{share_id}/recipients/{recipient_id}', () => {
  test('given an active recipient, when deleting it, then 200 with it disassociating, still listed and no longer receiving', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const before = await recipientsOf(h.app, shareId);
    const r1 = before.get(R1) as Recipient;
    assert.ok((await received(R1, TOKENS.r1)).includes(shareId));
    h.clock.advance(1000);
    const res = await call(h.app, 'DELETE', recipientsUrl(shareId, `/${r1.id}`));
    assertSuccess(res);
    assert.equal(res.body.result.id, r1.id);
    assert.equal(res.body.result.account_id, R1);
    assert.equal(res.body.result.association_status, 'disassociating');
    assert.equal(res.body.result.created, r1.created);
    assert.ok(res.body.result.modified > r1.modified);
    assert.equal('resources' in res.body.result, false);
    const list = await recipientsOf(h.app, shareId);
    assert.deepEqual(list.get(R1), res.body.result);
    assert.deepEqual(list.get(R2), before.get(R2));
    assert.equal((await received(R1, TOKENS.r1)).includes(shareId), false);
    assertError(
      await call(h.app, 'GET', `${base(R1)}/${shareId}`, { token: TOKENS.r1 }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
  });

  test('given a recipient already removed, when deleting it again, then 409 and it is unchanged', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const r1 = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    assertSuccess(await call(h.app, 'DELETE', recipientsUrl(shareId, `/${r1.id}`)));
    const before = await recipientsOf(h.app, shareId);
    h.clock.advance(1000);
    const res = await call(h.app, 'DELETE', recipientsUrl(shareId, `/${r1.id}`));
    assertConflict(res, 'The recipient is already disassociating');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given an unknown recipient id, when deleting, then 404 Share recipient not found', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const url = (id: string) => recipientsUrl(shareId, `/${id}`);
    await assertIdsNotFound(h.app, url, [hexId(0xbeef)], [{ method: 'DELETE' }], RECIPIENT_NOT_FOUND);
  });

  test('given an organization share, when deleting a recipient, then 400 with a pointer to the share id and nothing changes', async () => {
    const shareId = await organizationShare(h);
    const before = await recipientsOf(h.app, shareId);
    const res = await call(h.app, 'DELETE', recipientsUrl(shareId, `/${before.get(R1)?.id}`));
    assertError(res, 400, 1400, ORG_SHARE_DELETE, '/path/share_id');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });

  test('given a read-only token, when deleting a recipient, then 403 and nothing changes', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const before = await recipientsOf(h.app, shareId);
    const res = await call(h.app, 'DELETE', recipientsUrl(shareId, `/${before.get(R1)?.id}`), {
      token: TOKENS.ownerRead,
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
  });
});

describe('recipients endpoints and who may call them', () => {
  test('given a recipient account, when it calls any recipients endpoint of a share it receives, then 404 Share not found', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const r1 = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    for (const account of [R1, OWNER]) {
      const opts = { token: TOKENS.r1 };
      const calls: Reply[] = [
        await call(h.app, 'GET', recipientsUrl(shareId, '', account), opts),
        await call(h.app, 'GET', recipientsUrl(shareId, `/${r1.id}`, account), opts),
        await call(h.app, 'POST', recipientsUrl(shareId, '', account), {
          ...opts,
          body: { recipient_account_id: R2 },
        }),
        await call(h.app, 'PUT', recipientsUrl(shareId, '', account), { ...opts, body: [] }),
        await call(h.app, 'DELETE', recipientsUrl(shareId, `/${r1.id}`, account), opts),
      ];
      for (const res of calls) assertError(res, 404, 1404, SHARE_NOT_FOUND);
    }
    const list = await recipientsOf(h.app, shareId);
    assert.deepEqual([...list.keys()], [R1]);
    assert.equal(list.get(R1)?.association_status, 'associating');
  });

  test('given a stranger or an organization token, when listing recipients, then 404 Share not found', async () => {
    const shareId = await accountShare(h.app, [R1]);
    assertError(
      await call(h.app, 'GET', recipientsUrl(shareId), { token: TOKENS.stranger }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
    assertError(
      await call(h.app, 'GET', recipientsUrl(shareId, '', STRANGER), { token: TOKENS.stranger }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
    assertError(
      await call(h.app, 'GET', recipientsUrl(shareId), { token: TOKENS.org }),
      404,
      1404,
      SHARE_NOT_FOUND,
    );
  });

  test('given a read-only owner token, when listing and getting recipients, then they are returned', async () => {
    const shareId = await accountShare(h.app, [R1]);
    const res = await call(h.app, 'GET', recipientsUrl(shareId), { token: TOKENS.ownerRead });
    assertSuccess(res);
    assert.deepEqual(
      (res.body.result as Recipient[]).map((r) => r.account_id),
      [R1],
    );
    const one = await call(h.app, 'GET', recipientsUrl(shareId, `/${res.body.result[0].id}`), {
      token: TOKENS.ownerRead,
    });
    assertSuccess(one);
    assert.deepEqual(one.body.result, res.body.result[0]);
  });
});

describe('recipients of a deleted share', () => {
  test('given a share being deleted, when changing its recipients, then every change is 409 and recipients are disassociating', async () => {
    const shareId = await accountShare(h.app, [R1, R2]);
    const r1 = (await recipientsOf(h.app, shareId)).get(R1) as Recipient;
    await deleteShare(shareId);
    const before = await recipientsOf(h.app, shareId);
    assert.equal(before.size, 2);
    for (const r of before.values()) assert.equal(r.association_status, 'disassociating');
    h.clock.advance(1000);
    assertConflict(
      await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R3 } }),
      SHARE_DELETING,
    );
    assertConflict(
      await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R1 } }),
      SHARE_DELETING,
    );
    assertConflict(
      await call(h.app, 'PUT', recipientsUrl(shareId), { body: [{ recipient_account_id: R1 }] }),
      SHARE_DELETING,
    );
    assertConflict(await call(h.app, 'DELETE', recipientsUrl(shareId, `/${r1.id}`)), SHARE_DELETING);
    assert.deepEqual(await recipientsOf(h.app, shareId), before);
    const one = await call(h.app, 'GET', recipientsUrl(shareId, `/${r1.id}`));
    assertSuccess(one);
    assert.deepEqual(one.body.result, before.get(R1));
  });

  test('given an organization share being deleted, when changing its recipients, then 409 for the deletion comes first', async () => {
    const shareId = await organizationShare(h);
    await deleteShare(shareId);
    assertConflict(
      await call(h.app, 'POST', recipientsUrl(shareId), { body: { recipient_account_id: R1 } }),
      SHARE_DELETING,
    );
    assertConflict(await call(h.app, 'PUT', recipientsUrl(shareId), { body: [] }), SHARE_DELETING);
  });
});
