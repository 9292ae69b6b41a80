import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { auditEntry, CLI_ACTOR } from '../src/platform/audit/entry.js';
import { AuditPruner } from '../src/cloudflare/audit/retention.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import {
  assertError,
  base,
  call,
  hexId,
  OWNER,
  R1,
  R2,
  seedShareBody,
  setup,
  TOKENS,
  USER,
  type Harness,
  type Reply,
} from './helpers.js';
import { buildReconciler } from './support/reconciler.js';

/** Wide enough for every entry the test clock (2026-01-01) stamps. */
const WINDOW = 'since=2025-01-01&before=2027-01-01';
const v2 = (account: string, query = '') => `/client/v4/accounts/${account}/logs/audit?${WINDOW}${query}`;
const v1 = (account: string, query = '') => `/client/v4/accounts/${account}/audit_logs${query}`;
const userAuth = { token: null, headers: { 'x-auth-email': USER.email, 'x-auth-key': USER.key } };

interface V2Entry {
  id: string;
  account: { id: string; name?: string };
  action: { description: string; result: string; time: string; type: string };
  actor: Record<string, string | undefined>;
  raw: Record<string, string | number | undefined>;
  resource: { id: string; type: string; product: string; request: unknown; response: unknown };
}

function reconciler(h: Harness): Reconciler {
  return buildReconciler({ store: h.store, clock: h.clock });
}

async function entries(h: Harness, account: string, query = '', token?: string): Promise<V2Entry[]> {
  const res = await call(h.app, 'GET', v2(account, query), token ? { token } : {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result as V2Entry[];
}

const summary = (list: V2Entry[]) =>
  list.map((e) => `${e.action.type} ${e.resource.type} ${e.action.description}`);

describe('audit logs: the whole life of a share', () => {
  let h: Harness;
  let shareId: string;
  let created: Reply;
  before(async () => {
    h = await setup();
    created = await call(h.app, 'POST', base(), {
      body: seedShareBody(),
      headers: { 'user-agent': 'audit-test/1.0', 'x-request-id': 'req-create-1' },
    });
    shareId = created.body.result.id as string;
    await call(h.app, 'POST', `${base()}/${shareId}/recipients`, {
      ...userAuth,
      body: { recipient_account_id: R2 },
    });
    await reconciler(h).reconcileOnce();
    const resources = await call(h.app, 'GET', `${base()}/${shareId}/resources`);
    const resourceId = resources.body.result[0].id as string;
    await call(h.app, 'PUT', `${base()}/${shareId}/resources/${resourceId}`, { body: { meta: { v: 2 } } });
    await reconciler(h).reconcileOnce();
    await call(h.app, 'DELETE', `${base()}/${shareId}`);
    await reconciler(h).reconcileOnce();
    await reconciler(h).reconcileOnce();
  });
  after(() => h.close());

  test('given the share was created, changed, delivered and deleted, when the owner lists version 2, then every step is there newest first', async () => {
    const list = await entries(h, OWNER);
    assert.deepEqual(summary(list).reverse(), [
      'create share Create share',
      'create share_recipient Add share recipient',
      'update share_recipient Share recipient associated',
      'update share_recipient Share recipient associated',
      'update share_resource Update share resource',
      'update share_recipient Share recipient associated',
      'update share_recipient Share recipient associated',
      'delete share Delete share',
      'update share_recipient Share recipient disassociated',
      'update share_recipient Share recipient disassociated',
      'delete share_resource Share resource deleted',
      'delete share Share deleted',
    ]);
    const times = list.map((e) => e.action.time);
    assert.deepEqual([...times].sort().reverse(), times);
    // rshare's own share_id filter: the share's history, its sub-objects' entries included.
    assert.deepEqual(
      (await entries(h, OWNER, `&share_id=${shareId}`)).map((e) => e.id),
      list.map((e) => e.id),
    );
    assert.deepEqual(await entries(h, OWNER, `&share_id=${hexId(7, 'e')}`), []);
  });

  test('given an API token made the change, when reading its entry, then actor, raw request and values are recorded', async () => {
    const list = await entries(h, OWNER);
    const create = list.find((e) => e.action.description === 'Create share') as V2Entry;
    assert.deepEqual(create.account, { id: OWNER, name: 'Acme Owner' });
    assert.equal(create.action.result, 'success');
    assert.deepEqual(create.actor, {
      id: OWNER,
      context: 'api_token',
      ip_address: '127.0.0.1',
      token_id: hexId(1, 'c'),
      token_name: 'token-1',
      type: 'account',
    });
    assert.deepEqual(create.raw, {
      cf_ray_id: 'req-create-1',
      method: 'POST',
      status_code: 201,
      uri: `/client/v4/accounts/${OWNER}/shares`,
      user_agent: 'audit-test/1.0',
    });
    assert.equal(create.resource.id, shareId);
    assert.equal(create.resource.product, 'resource_sharing');
    assert.deepEqual(create.resource.request, seedShareBody());
    assert.deepEqual((create.resource.response as { recipients: string[] }).recipients, [R1]);
  });

  test('given a user (email + global key) made the change, then its id, email and context are recorded', async () => {
    const list = await entries(h, OWNER, '&resource_type=share_recipient&action_type=create');
    assert.equal(list.length, 1);
    const [added] = list as [V2Entry];
    assert.equal(added.actor.type, 'user');
    assert.equal(added.actor.id, hexId(1, 'd'));
    assert.equal(added.actor.email, USER.email);
    assert.equal(added.actor.context, 'api_key');
    assert.equal(added.actor.token_id, undefined);
  });

  test('given a resource was updated, then its entry holds the old and the new version and meta', async () => {
    const [update] = await entries(h, OWNER, '&action_type=update&resource_type=share_resource');
    assert.ok(update);
    const v1List = await call(h.app, 'GET', v1(OWNER, `?id=${update.id}`));
    const [legacy] = v1List.body.result;
    assert.equal(JSON.parse(legacy.oldValue).resource_version, 1);
    assert.deepEqual(JSON.parse(legacy.newValue).meta, { v: 2 });
    assert.equal(JSON.parse(legacy.newValue).resource_version, 2);
  });

  test('given the reconciler delivered and removed the resource, when a recipient lists its own log, then it sees the arrival, the update and the removal as system entries', async () => {
    const list = await entries(h, R1, '', TOKENS.r1);
    assert.deepEqual(summary(list).reverse(), [
      'create custom-ruleset Shared resource delivered',
      'update custom-ruleset Shared resource updated',
      'delete custom-ruleset Shared resource removed',
    ]);
    for (const e of list) {
      assert.equal(e.actor.type, 'system');
      assert.equal(e.resource.id, '023e105f4ecef8ad9ca31a8372d0c353');
      assert.deepEqual(e.raw, {});
    }
  });

  test('given the log of the owner, when a recipient token asks for it, then it is refused as any account out of scope', async () => {
    assertError(
      await call(h.app, 'GET', v2(OWNER), { token: TOKENS.r1 }),
      403,
      10000,
      'Authentication error',
    );
  });
});

describe('audit logs: only what happened is recorded', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(() => h.close());

  test('given requests that are refused, when listing, then none of them left an entry', async () => {
    const res = await call(h.app, 'POST', base(), { body: { ...seedShareBody(), name: 7 } });
    assert.equal(res.status, 400);
    const ro = await call(h.app, 'POST', base(), { body: seedShareBody(), token: TOKENS.ownerRead });
    assert.equal(ro.status, 403);
    assert.deepEqual(await entries(h, OWNER), []);
  });

  test('given a store write that does not happen (the share is no longer active), then its entries are not written either', async () => {
    const share = await call(h.app, 'POST', base(), { body: seedShareBody() });
    const id = share.body.result.id as string;
    await call(h.app, 'DELETE', `${base()}/${id}`);
    const entry = auditEntry(CLI_ACTOR, h.clock.timestamp(), {
      account: { id: OWNER, organization_id: null },
      action: 'update',
      description: 'never happens',
      resource: { type: 'share', id },
    });
    assert.equal(await h.store.shares.update(id, 'late', undefined, h.clock.timestamp(), [entry]), false);
    assert.deepEqual(await entries(h, OWNER, `&id=${entry.id}`), []);
    assert.equal((await entries(h, OWNER)).length, 2);
  });

  test('given a recipient without the entitlement, when the reconciler fails the delivery terminally, then the owner sees a failure entry with the error', async () => {
    await h.store.tenancy.upsertAccount({
      id: R2,
      name: 'Acme R2',
      organization_id: (await h.store.tenancy.getAccount(R2))?.organization_id ?? null,
      entitlements: ['gateway-policy'],
      created: h.clock.timestamp(),
      modified: h.clock.timestamp(),
    });
    await call(h.app, 'POST', base(), { body: seedShareBody(R2) });
    await reconciler(h).reconcileOnce();
    const [failed] = await entries(h, OWNER, '&action_result=failure');
    assert.ok(failed);
    assert.equal(failed.action.description, 'Delivery failed');
    assert.equal(failed.actor.type, 'system');
    const value = failed.resource.response as { account_id: string; error: string; terminal: boolean };
    assert.equal(value.account_id, R2);
    assert.equal(value.terminal, true);
    assert.match(value.error, /entitle/i);
  });
});

describe('audit logs version 2: query', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
    for (let i = 0; i < 5; i++) {
      await call(h.app, 'POST', base(), { body: { ...seedShareBody(), name: `share ${i}` } });
      h.clock.advance(60_000);
    }
  });
  after(() => h.close());

  test('given five entries, when following the cursor two at a time, then every entry comes once, newest first, and the last page has no cursor', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await call(h.app, 'GET', v2(OWNER, `&limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      assert.equal(res.status, 200);
      seen.push(...res.body.result.map((e: V2Entry) => (e.resource.request as { name: string }).name));
      cursor = res.body.result_info.cursors?.after as string | undefined;
      assert.equal(res.body.result_info.cursor, cursor);
      assert.equal(res.body.result_info.count, res.body.result.length);
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['share 4', 'share 3', 'share 2', 'share 1', 'share 0']);
  });

  test('given direction=asc, a time window and filters with .not variants, then only the matching entries come, oldest first', async () => {
    const asc = await entries(h, OWNER, '&direction=asc');
    assert.deepEqual(
      asc.map((e) => (e.resource.request as { name: string }).name),
      ['share 0', 'share 1', 'share 2', 'share 3', 'share 4'],
    );
    const [first, second] = asc as [V2Entry, V2Entry];
    const windowed = await call(
      h.app,
      'GET',
      `/client/v4/accounts/${OWNER}/logs/audit?since=${first.action.time}&before=${second.action.time}`,
    );
    assert.deepEqual(
      windowed.body.result.map((e: V2Entry) => e.id),
      [first.id],
    );
    const not = await entries(h, OWNER, `&id.not=${first.id}&id.not=${second.id}`);
    assert.equal(not.length, 3);
    const both = await entries(h, OWNER, `&id=${first.id}&id=${second.id}`);
    assert.equal(both.length, 2);
    assert.deepEqual(await entries(h, OWNER, '&action_type=delete'), []);
    assert.equal(
      (await entries(h, OWNER, '&action_type.not=view&resource_product=resource_sharing')).length,
      5,
    );
    assert.deepEqual(await entries(h, OWNER, '&zone_name=example.com'), []);
    assert.equal((await entries(h, OWNER, '&zone_name.not=example.com')).length, 5);
    assert.equal((await entries(h, OWNER, '&raw_status_code=201&raw_method=POST')).length, 5);
    assert.equal((await entries(h, OWNER, '&actor_email.not=nobody@example.com')).length, 5);
  });

  test('given missing or malformed parameters, then each is refused with its pointer', async () => {
    assertError(
      await call(h.app, 'GET', `/client/v4/accounts/${OWNER}/logs/audit?before=2027-01-01`),
      400,
      1400,
      'since is required',
      '/query/since',
    );
    assertError(
      await call(h.app, 'GET', v2(OWNER).replace('since=2025-01-01', 'since=yesterday')),
      400,
      1400,
      'since must be a date (2019-04-30) or an RFC 3339 timestamp',
      '/query/since',
    );
    assertError(
      await call(h.app, 'GET', v2(OWNER, '&cursor=bm90LWEtY3Vyc29y')),
      400,
      1400,
      'cursor is not one this server returned',
      '/query/cursor',
    );
    assertError(
      await call(h.app, 'GET', v2(OWNER, '&limit=1001')),
      400,
      1400,
      'limit must be at most 1000',
      '/query/limit',
    );
    assertError(
      await call(h.app, 'GET', v2(OWNER, '&product_category=dns')),
      400,
      1400,
      'Unknown product category dns',
      '/query/product_category',
    );
  });
});

describe('audit logs version 1', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
    for (let i = 0; i < 3; i++) {
      await call(h.app, 'POST', base(), { body: { ...seedShareBody(), name: `share ${i}` } });
      h.clock.advance(60_000);
    }
    await call(h.app, 'POST', base(), { ...userAuth, body: { ...seedShareBody(), name: 'by the user' } });
  });
  after(() => h.close());

  test('given four entries, when listing without parameters, then all come newest first in the version 1 shape', async () => {
    const res = await call(h.app, 'GET', v1(OWNER));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.result_info, { page: 1, per_page: 100, count: 4 });
    const [newest] = res.body.result;
    assert.deepEqual(Object.keys(newest).sort(), [
      'action',
      'actor',
      'id',
      'interface',
      'metadata',
      'newValue',
      'owner',
      'resource',
      'when',
    ]);
    assert.deepEqual(newest.action, { type: 'create', result: true });
    assert.deepEqual(newest.actor, { id: hexId(1, 'd'), email: USER.email, ip: '127.0.0.1', type: 'user' });
    assert.equal(newest.interface, 'API');
    assert.deepEqual(newest.owner, { id: OWNER });
    assert.equal(newest.resource.type, 'share');
    assert.equal(JSON.parse(newest.newValue).name, 'by the user');
  });

  test('given page pagination and filters, then pages and filters apply as the SDK sends them', async () => {
    const page2 = await call(h.app, 'GET', v1(OWNER, '?per_page=3&page=2&direction=asc'));
    assert.deepEqual(page2.body.result_info, { page: 2, per_page: 3, count: 1 });
    assert.equal(JSON.parse(page2.body.result[0].newValue).name, 'by the user');
    const byEmail = await call(h.app, 'GET', v1(OWNER, `?actor.email=${encodeURIComponent(USER.email)}`));
    assert.equal(byEmail.body.result.length, 1);
    const byType = await call(h.app, 'GET', v1(OWNER, '?action.type=delete'));
    assert.equal(byType.body.result.length, 0);
    const byIp = await call(h.app, 'GET', v1(OWNER, '?actor.ip=127.0.0.1&since=2026-01-01T00:01:00Z'));
    assert.equal(byIp.body.result.length, 3);
    const before = await call(h.app, 'GET', v1(OWNER, '?before=2026-01-01T00:01:00Z'));
    assert.equal(before.body.result.length, 1);
  });

  test('given a malformed time, then it is refused with its pointer', async () => {
    assertError(
      await call(h.app, 'GET', v1(OWNER, '?since=2026-13-45')),
      400,
      1400,
      '2026-13-45 is not a valid time',
      '/query/since',
    );
    // A filter that matches nothing (no entry has a zone) does not skip checking the rest of the query.
    assertError(
      await call(h.app, 'GET', v1(OWNER, '?zone.name=example.com&before=soon')),
      400,
      1400,
      'before must be a date (2019-04-30) or an RFC 3339 timestamp',
      '/query/before',
    );
  });
});

describe('audit logs: reads and retention', () => {
  test('given --audit-reads, when a share is read, then a view entry names it; without it, reads leave nothing', async () => {
    const on = await setup({ app: { auditReads: true } });
    const off = await setup();
    try {
      for (const h of [on, off]) {
        const share = await call(h.app, 'POST', base(), { body: seedShareBody() });
        const id = share.body.result.id as string;
        assert.equal((await call(h.app, 'GET', `${base()}/${id}`)).status, 200);
        assert.equal((await call(h.app, 'GET', `${base()}/${hexId(9, 'e')}`)).status, 404);
      }
      // The hook writes after the answer: wait for it (bounded).
      let views: V2Entry[] = [];
      for (let i = 0; i < 100 && views.length === 0; i++) {
        views = await entries(on, OWNER, '&action_type=view&resource_type=share');
        if (views.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(views.length, 1);
      assert.equal(views[0]?.action.description, 'View share');
      assert.equal(views[0]?.raw.method, 'GET');
      assert.equal(views[0]?.raw.status_code, 200);
      assert.deepEqual(await entries(off, OWNER, '&action_type=view'), []);
    } finally {
      await on.close();
      await off.close();
    }
  });

  test('given entries older than the retention, when the pruner runs, then only those are deleted', async () => {
    const h = await setup();
    try {
      await call(h.app, 'POST', base(), { body: seedShareBody() });
      h.clock.advance(10 * 86_400_000);
      await call(h.app, 'POST', base(), { body: seedShareBody() });
      h.clock.advance(5 * 86_400_000);
      const pruner = new AuditPruner(h.store.audit, h.clock, 12);
      assert.equal(await pruner.pruneOnce(), 1);
      assert.equal((await entries(h, OWNER)).length, 1);
      assert.equal(await pruner.pruneOnce(), 0);
    } finally {
      await h.close();
    }
  });
});
