import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriversFile } from '../src/platform/resource-types/delivery.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import { type ReconcileReport } from '../src/engine/reconciler/reconciler.js';
import { base, call, hexId, OWNER, R1, R2, setup, TOKENS, type Harness, type Reply } from './helpers.js';
import {
  closedPortUrl,
  expectedSignature,
  WebhookReceiver,
  type Received,
} from './support/webhook-receiver.js';
import { buildReconciler, testDrivers } from './support/reconciler.js';
import { waitFor } from './support/process.js';
import { assertSuccess } from './support/assert.js';
import { createShare, toAccounts, type Resource } from './support/shares.js';

const SECRET = 'webhook-secret-for-tests-0001';
const BACKOFF_BASE = 100;
const HEX64 = /^[0-9a-f]{64}$/;

interface RecipientResource {
  resource_id: string;
  resource_version: number;
  error: string;
  terminal: boolean;
}

let h: Harness;
let receiver: WebhookReceiver;
let url: string;

beforeEach(async () => {
  h = await setup();
  receiver = new WebhookReceiver(SECRET);
  url = await receiver.start();
  // setup() creates accounts, which queues organization work: start from an empty queue.
  await reconcilerFor(url).reconcileOnce();
});
afterEach(async () => {
  await receiver.close();
  await h.close();
});

/** A reconciler whose `gateway-policy` deliveries go to the webhook at `target`; jitter-free backoff. */
function reconcilerFor(target: string, timeoutMs = 2000): Reconciler {
  const config: DriversFile = {
    'gateway-policy': { driver: 'webhook', url: target, secret: SECRET, timeout_ms: timeoutMs },
  };
  return buildReconciler({
    store: h.store,
    clock: h.clock,
    drivers: testDrivers(h, config),
    random: () => 0,
    backoffBaseMs: BACKOFF_BASE,
  });
}

/**
 * One pass whose deliveries time out, with time driven rather than waited for: the driver's timeout signal
 * is one the test fires as soon as the receiver has the request. Returns the report and the timeouts asked for.
 */
async function reconcileTimingOut(
  reconciler: Reconciler,
): Promise<{ report: ReconcileReport; asked: number[] }> {
  const asked: number[] = [];
  const timeout = new AbortController();
  const realTimeout = AbortSignal.timeout.bind(AbortSignal);
  AbortSignal.timeout = (ms: number) => {
    asked.push(ms);
    return timeout.signal;
  };
  receiver.onRequest = async () => {
    timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  };
  try {
    return { report: await reconciler.reconcileOnce(), asked };
  } finally {
    AbortSignal.timeout = realTimeout;
    receiver.onRequest = undefined;
  }
}

/** With `random: () => 0` the delay before retry number `attempts + 1` is half of base × 2^attempts. */
const backoff = (attempts: number) => (BACKOFF_BASE * 2 ** attempts) / 2;

const policy = (n: number, meta: Record<string, unknown> = { rule: 'deny', n }) => ({
  resource_account_id: OWNER,
  resource_id: hexId(n, 'e'),
  resource_type: 'gateway-policy',
  meta,
});

interface HookedShare {
  id: string;
  resources: Resource[];
  /** The first resource. */
  resource: Resource;
  recipientIds: Map<string, string>;
  /** R1's recipient id. */
  recipientId: string;
}

/** A share of `resources` to `recipients` (R1 among them), with the ids the API gave them. */
async function hookedShare(
  recipients: string[] = [R1],
  resources: Record<string, unknown>[] = [policy(1)],
): Promise<HookedShare> {
  const { id } = await createShare(h.app, { name: 'hooked', recipients: toAccounts(recipients), resources });
  const created = await resourcesOf(id);
  const ids = await recipientIds(id);
  const [resource] = created;
  const recipientId = ids.get(R1);
  assert.ok(resource && recipientId, 'a hooked share has a resource and R1 among its recipients');
  return { id, resources: created, resource, recipientIds: ids, recipientId };
}

async function resourcesOf(shareId: string): Promise<Resource[]> {
  const res = await call(h.app, 'GET', `${base()}/${shareId}/resources`);
  assertSuccess(res);
  return res.body.result;
}

async function recipientIds(shareId: string): Promise<Map<string, string>> {
  const res = await call(h.app, 'GET', `${base()}/${shareId}/recipients`);
  assertSuccess(res);
  return new Map((res.body.result as { id: string; account_id: string }[]).map((r) => [r.account_id, r.id]));
}

/** The recipient of `account` with its per-resource delivery state, through both read routes. */
async function recipient(
  shareId: string,
  account = R1,
): Promise<{ status: string; resources: RecipientResource[] }> {
  const list = await call(h.app, 'GET', `${base()}/${shareId}/recipients?include_resources=true`);
  assertSuccess(list);
  const r = (list.body.result as { account_id: string; id: string }[]).find((x) => x.account_id === account);
  assert.ok(r);
  const one = await call(h.app, 'GET', `${base()}/${shareId}/recipients/${r.id}?include_resources=true`);
  assertSuccess(one);
  assert.deepEqual(one.body.result, r);
  return { status: one.body.result.association_status, resources: one.body.result.resources };
}

/** Asserts R1's recipient associated, holding its one resource at `version` with `error` (none by default). */
async function assertAssociated(
  shareId: string,
  resourceId: string | undefined,
  version: number,
  error = '',
  terminal = false,
): Promise<void> {
  await assertRecipient(shareId, 'associated', resourceId, version, error, terminal);
}

/** Asserts R1's recipient `status`, its one resource at `version` with `error` (terminal or not). */
async function assertRecipient(
  shareId: string,
  status: string,
  resourceId: string | undefined,
  version: number,
  error: string,
  terminal: boolean,
): Promise<void> {
  assert.deepEqual(await recipient(shareId), {
    status,
    resources: [{ resource_id: resourceId, resource_version: version, error, terminal }],
  });
}

/**
 * Deletes R1's recipient, reconciles, adds R1 back, reconciles, and asserts the receiver saw apply, remove,
 * apply (the first apply delivered before this is called).
 */
async function removeAndAddBack(reconciler: Reconciler, shareId: string, recipientId: string): Promise<void> {
  assertSuccess(await call(h.app, 'DELETE', `${base()}/${shareId}/recipients/${recipientId}`));
  await reconciler.reconcileOnce();
  assertSuccess(
    await call(h.app, 'POST', `${base()}/${shareId}/recipients`, { body: { recipient_account_id: R1 } }),
    201,
  );
  await reconciler.reconcileOnce();
  assert.deepEqual(
    receiver.requests.map((r) => r.body.action),
    ['apply', 'remove', 'apply'],
  );
}

/** Checks one webhook request completely: method, headers, signature and body. */
function assertEvent(
  req: Received | undefined,
  expected: {
    action: 'apply' | 'remove';
    shareId: string;
    recipientId: string;
    account: string;
    resource: Resource;
    /** The manual clock when the request was sent. */
    sentAt: number;
  },
): string {
  assert.ok(req, 'no request received');
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/hook');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['x-rshare-timestamp'], String(Math.floor(expected.sentAt / 1000)));
  assert.equal(req.signatureValid, true, 'signature must verify');
  assert.equal(
    req.headers['x-rshare-signature'],
    expectedSignature(SECRET, String(req.headers['x-rshare-timestamp']), req.raw),
  );
  assert.notEqual(
    req.headers['x-rshare-signature'],
    expectedSignature('another-secret-entirely', String(req.headers['x-rshare-timestamp']), req.raw),
  );
  const key = req.headers['idempotency-key'];
  assert.equal(typeof key, 'string');
  assert.match(String(key), HEX64);
  const r = expected.resource;
  assert.deepEqual(req.body, {
    action: expected.action,
    idempotency_key: key,
    share_id: expected.shareId,
    recipient_id: expected.recipientId,
    recipient_account_id: expected.account,
    resource: {
      id: r.id,
      resource_id: r.resource_id,
      resource_type: r.resource_type,
      resource_account_id: r.resource_account_id,
      resource_version: r.resource_version,
      meta: r.meta,
    },
  });
  return String(key);
}

function assertReport(report: ReconcileReport, processed: number, retried: number, transitions: number) {
  assert.equal(report.processed, processed, JSON.stringify(report));
  assert.equal(report.retried, retried, JSON.stringify(report));
  assert.equal(report.transitions.length, transitions, JSON.stringify(report));
}

const idle = { processed: 0, retried: 0, transitions: [] };

describe('Webhook driver: retryable failures', () => {
  test('given a receiver answering 503 three times then 200, when reconciling as the backoff elapses, then the recipient stays associating with the error until it is associated', async () => {
    receiver.script([{ status: 503 }, { status: 503 }, { status: 503 }]);
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource, recipientId } = share;
    const event = { action: 'apply' as const, shareId: share.id, recipientId, account: R1, resource };
    const failing = {
      status: 'associating',
      resources: [
        {
          resource_id: resource.resource_id,
          resource_version: 0,
          error: 'Webhook answered HTTP 503',
          terminal: false,
        },
      ],
    };

    const keys: string[] = [];
    const bodies: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const sentAt = h.clock.now();
      assertReport(await reconciler.reconcileOnce(), 1, 1, 0);
      assert.equal(receiver.requests.length, attempt + 1);
      keys.push(assertEvent(receiver.requests[attempt], { ...event, sentAt }));
      bodies.push(receiver.requests[attempt]?.raw as string);
      assert.deepEqual(await recipient(share.id), failing);
      assert.deepEqual(await inventoryOfR1(), [], 'a webhook type never reaches the inventory');

      // Not retried before its backoff has elapsed...
      assert.deepEqual(await reconciler.reconcileOnce(), idle);
      h.clock.advance(backoff(attempt) - 1);
      assert.deepEqual(await reconciler.reconcileOnce(), idle);
      assert.equal(receiver.requests.length, attempt + 1);
      // ...and retried as soon as it has.
      h.clock.advance(1);
    }

    const sentAt = h.clock.now();
    const report = await reconciler.reconcileOnce();
    assertReport(report, 1, 0, 1);
    assert.deepEqual(report.transitions, [
      { entity: 'recipient', id: recipientId, from: 'associating', to: 'associated' },
    ]);
    assert.equal(receiver.requests.length, 4);
    keys.push(assertEvent(receiver.requests[3], { ...event, sentAt }));
    bodies.push(receiver.requests[3]?.raw as string);
    assert.deepEqual(new Set(keys).size, 1, 'the same key for every attempt');
    assert.deepEqual(new Set(bodies).size, 1, 'the same body for every attempt');
    await assertAssociated(share.id, resource.resource_id, 1);
    assert.deepEqual(await reconciler.reconcileOnce(), idle);
    assert.equal(receiver.requests.length, 4);

    const metrics = await reconciler.metrics.registry.metrics();
    assert.match(
      metrics,
      /^rshare_deliveries_total\{driver="webhook",action="apply",outcome="retryable"\} 3$/m,
    );
    assert.match(metrics, /^rshare_deliveries_total\{driver="webhook",action="apply",outcome="ok"\} 1$/m);
    assert.match(metrics, /^rshare_reconcile_items_total\{kind="recipient",outcome="retry"\} 3$/m);
    assert.match(metrics, /^rshare_reconcile_pending 0$/m);
  });

  test('given a recipient backing off after a 503, when the share is deleted, then the recipient is reconciled at once and the share finishes deleting', async () => {
    receiver.script([{ status: 503 }]);
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    assertReport(await reconciler.reconcileOnce(), 1, 1, 0);
    assert.deepEqual(await reconciler.reconcileOnce(), idle, 'backing off');
    const del = await call(h.app, 'DELETE', `${base()}/${share.id}`);
    assertSuccess(del);
    assert.equal(del.body.result.status, 'deleting');
    // No clock advance: a new request for the item does not wait for the old backoff.
    const report = await reconciler.reconcileOnce();
    assert.equal(report.retried, 0);
    assert.deepEqual(
      report.transitions.filter((t) => t.entity !== 'resource'),
      [
        { entity: 'recipient', id: share.recipientIds.get(R1), from: 'disassociating', to: 'disassociated' },
        { entity: 'share', id: share.id, from: 'deleting', to: 'deleted' },
      ],
    );
    assert.deepEqual(await recipient(share.id), { status: 'disassociated', resources: [] });
    assert.deepEqual(
      (await resourcesOf(share.id)).map((r) => (r as Resource & { status: string }).status),
      ['deleted'],
    );
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  });

  test('given a webhook URL where nothing listens, when reconciling, then the connection error is retryable and a later attempt succeeds', async () => {
    const share = await hookedShare();
    const { resource } = share;
    const refused = reconcilerFor(await closedPortUrl());
    assertReport(await refused.reconcileOnce(), 1, 1, 0);
    const state = await recipient(share.id);
    assert.equal(state.status, 'associating');
    assert.equal(state.resources.length, 1);
    assert.equal(state.resources[0]?.terminal, false);
    assert.equal(state.resources[0]?.resource_version, 0);
    assert.match(String(state.resources[0]?.error), /^Webhook request failed: \S/);
    assert.deepEqual(await refused.reconcileOnce(), idle, 'backing off');

    // The receiver is reachable again (another worker with the right URL): the item is retried after backoff.
    const working = reconcilerFor(url);
    assert.deepEqual(await working.reconcileOnce(), idle);
    h.clock.advance(backoff(0));
    assertReport(await working.reconcileOnce(), 1, 0, 1);
    assert.equal(receiver.requests.length, 1);
    await assertAssociated(share.id, resource.resource_id, 1);
  });

  test('given a receiver that never answers and timeout_ms 200, when reconciling, then the timeout is retryable and the retry succeeds', async () => {
    receiver.script(['hang']);
    const reconciler = reconcilerFor(url, 200);
    const share = await hookedShare();
    const { resource } = share;
    const { report, asked } = await reconcileTimingOut(reconciler);
    assertReport(report, 1, 1, 0);
    assert.deepEqual(asked, [200], 'the delivery asked for the configured timeout_ms');
    assert.deepEqual(receiver.hookErrors, []);
    // The request arrived and the client, not the receiver, ended it: the receiver never answered.
    assert.equal(receiver.requests.length, 1);
    await waitFor('the client to close the hung request', () => receiver.abandoned === 1 || undefined, {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    await assertRecipient(
      share.id,
      'associating',
      resource.resource_id,
      0,
      'Webhook request failed: timed out',
      false,
    );
    assert.deepEqual(
      await reconciler.reconcileOnce(),
      idle,
      'not retried before the clock reaches its backoff',
    );
    h.clock.advance(backoff(0));
    assertReport(await reconciler.reconcileOnce(), 1, 0, 1);
    assert.equal(receiver.requests.length, 2);
    assert.equal(
      receiver.requests[0]?.headers['idempotency-key'],
      receiver.requests[1]?.headers['idempotency-key'],
    );
    assert.equal((await recipient(share.id)).status, 'associated');
  });

  for (const [status, body, error] of [
    [500, '{"errors":[{"code":7,"message":"database unavailable"}]}', 'database unavailable'],
    [502, 'Bad gateway', 'Bad gateway'],
    [504, '', 'Webhook answered HTTP 504'],
  ] as const) {
    test(`given a receiver answering ${status} ${JSON.stringify(body)}, when reconciling, then the error "${error}" is retryable`, async () => {
      receiver.script([{ status, body }]);
      const reconciler = reconcilerFor(url);
      const share = await hookedShare();
      assertReport(await reconciler.reconcileOnce(), 1, 1, 0);
      assert.deepEqual((await recipient(share.id)).resources, [
        { resource_id: share.resources[0]?.resource_id, resource_version: 0, error, terminal: false },
      ]);
    });
  }

  test('given a receiver answering with a redirect, when reconciling, then the delivery is not counted as done', async () => {
    receiver.script([{ status: 303, headers: { location: '/elsewhere' } }], { status: 200 });
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const report = await reconciler.reconcileOnce();
    // Following the redirect would turn the signed POST into a bodiless GET that "succeeds".
    assert.equal(
      receiver.requests.length,
      1,
      JSON.stringify(receiver.requests.map((r) => [r.method, r.url])),
    );
    assertReport(report, 1, 1, 0);
    await assertRecipient(
      share.id,
      'associating',
      share.resources[0]?.resource_id,
      0,
      'Webhook answered HTTP 303',
      false,
    );
  });
});

describe('Webhook driver: terminal failures', () => {
  test('given a receiver answering 400 with a Cloudflare error, when reconciling, then the failure is terminal, the recipient associated, and nothing is resent until the resource changes', async () => {
    receiver.script([{ status: 400, body: '{"errors":[{"code":1,"message":"policy rejected"}]}' }]);
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource, recipientId } = share;
    const sentAt = h.clock.now();
    const report = await reconciler.reconcileOnce();
    assertReport(report, 1, 0, 1);
    assert.deepEqual(report.transitions, [
      { entity: 'recipient', id: recipientId, from: 'associating', to: 'associated' },
    ]);
    const firstKey = assertEvent(receiver.requests[0], {
      action: 'apply',
      shareId: share.id,
      recipientId,
      account: R1,
      resource,
      sentAt,
    });
    await assertAssociated(share.id, resource.resource_id, 0, 'policy rejected', true);

    // Neither another pass, nor a redundant request for the recipient, nor time passing resends it.
    assert.deepEqual(await reconciler.reconcileOnce(), idle);
    await h.store.reconciler.enqueue('recipient', recipientId);
    h.clock.advance(3_600_000);
    assertReport(await reconciler.reconcileOnce(), 1, 0, 0);
    assert.equal(receiver.requests.length, 1);
    assert.equal((await recipient(share.id)).status, 'associated');

    // A new version is tried again (and this time accepted).
    const put = await call(h.app, 'PUT', `${base()}/${share.id}/resources/${resource.id}`, {
      body: { meta: { rule: 'allow' } },
    });
    assertSuccess(put);
    assert.equal((await recipient(share.id)).status, 'associating');
    const [v2] = await resourcesOf(share.id);
    assert.ok(v2);
    assert.equal(v2.resource_version, 2);
    const retryAt = h.clock.now();
    assertReport(await reconciler.reconcileOnce(), 1, 0, 1);
    assert.equal(receiver.requests.length, 2);
    const secondKey = assertEvent(receiver.requests[1], {
      action: 'apply',
      shareId: share.id,
      recipientId,
      account: R1,
      resource: v2,
      sentAt: retryAt,
    });
    assert.notEqual(secondKey, firstKey, 'a new version is a new delivery');
    await assertAssociated(share.id, resource.resource_id, 2);
    const metrics = await reconciler.metrics.registry.metrics();
    assert.match(
      metrics,
      /^rshare_deliveries_total\{driver="webhook",action="apply",outcome="terminal"\} 1$/m,
    );
  });

  for (const [status, body, error] of [
    [422, '{"message":"meta.rule is invalid"}', 'meta.rule is invalid'],
    [409, '{"error":"already exists"}', 'already exists'],
    [403, 'forbidden by policy', 'forbidden by policy'],
    [404, '', 'Webhook answered HTTP 404'],
    [400, '{"errors":[]}', '{"errors":[]}'],
    [400, 'x'.repeat(800), 'x'.repeat(500)],
  ] as const) {
    test(`given a receiver answering ${status} ${JSON.stringify(body).slice(0, 40)}, when reconciling, then the terminal error is ${JSON.stringify(error).slice(0, 40)}`, async () => {
      receiver.script([{ status, body }]);
      const share = await hookedShare();
      assertReport(await reconcilerFor(url).reconcileOnce(), 1, 0, 1);
      await assertAssociated(share.id, share.resources[0]?.resource_id, 0, error, true);
    });
  }
});

describe('Webhook driver: removal and routing', () => {
  test('given an associated recipient, when it is deleted, then a signed remove event with its own key is sent and it ends disassociated', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource, recipientId } = share;
    await reconciler.reconcileOnce();
    assert.equal(receiver.requests.length, 1);
    const applyKey = String(receiver.requests[0]?.headers['idempotency-key']);

    h.clock.advance(2000);
    const del = await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${recipientId}`);
    assertSuccess(del);
    assert.equal(del.body.result.association_status, 'disassociating');
    receiver.script([{ status: 503 }]);
    const sentAt = h.clock.now();
    assertReport(await reconciler.reconcileOnce(), 1, 1, 0);
    await assertRecipient(
      share.id,
      'disassociating',
      resource.resource_id,
      1,
      'Webhook answered HTTP 503',
      false,
    );
    const event = { action: 'remove' as const, shareId: share.id, recipientId, account: R1, resource };
    const removeKey = assertEvent(receiver.requests[1], { ...event, sentAt });
    assert.notEqual(removeKey, applyKey);

    h.clock.advance(backoff(0));
    const report = await reconciler.reconcileOnce();
    assertReport(report, 1, 0, 1);
    assert.deepEqual(report.transitions, [
      { entity: 'recipient', id: recipientId, from: 'disassociating', to: 'disassociated' },
    ]);
    assert.equal(receiver.requests.length, 3);
    assert.equal(assertEvent(receiver.requests[2], { ...event, sentAt: h.clock.now() }), removeKey);
    assert.deepEqual(await recipient(share.id), { status: 'disassociated', resources: [] });
    assert.deepEqual(await reconciler.reconcileOnce(), idle);
    assert.equal(receiver.requests.length, 3);
  });

  test('given a recipient whose apply failed terminally, when it is deleted, then no remove event is sent and it ends disassociated', async () => {
    receiver.script([{ status: 400, body: '{"errors":[{"code":1,"message":"policy rejected"}]}' }]);
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    await reconciler.reconcileOnce();
    assert.equal((await recipient(share.id)).status, 'associated');
    assertSuccess(
      await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${share.recipientIds.get(R1)}`),
    );
    assertReport(await reconciler.reconcileOnce(), 1, 0, 1);
    assert.equal(receiver.requests.length, 1);
    assert.deepEqual(await recipient(share.id), { status: 'disassociated', resources: [] });
  });

  test('given a share with a webhook type and an inventory type and two recipients, when reconciling, then each type goes to its driver and keys differ per recipient', async () => {
    const reconciler = reconcilerFor(url);
    const ruleset = {
      resource_account_id: OWNER,
      resource_id: hexId(9, 'e'),
      resource_type: 'custom-ruleset',
      meta: { kind: 'inventory' },
    };
    const share = await hookedShare([R1, R2], [policy(1), ruleset]);
    const report = await reconciler.reconcileOnce();
    assertReport(report, 2, 0, 2);
    assert.equal(receiver.requests.length, 2);
    const byAccount = new Map(receiver.requests.map((r) => [r.body.recipient_account_id as string, r]));
    const [webhooked, inventoried] = share.resources;
    assert.ok(webhooked && inventoried);
    assert.equal(webhooked.resource_type, 'gateway-policy');
    for (const account of [R1, R2]) {
      assertEvent(byAccount.get(account), {
        action: 'apply',
        shareId: share.id,
        recipientId: share.recipientIds.get(account) as string,
        account,
        resource: webhooked,
        sentAt: h.clock.now(),
      });
      assert.equal((await recipient(share.id, account)).status, 'associated');
    }
    assert.notEqual(
      byAccount.get(R1)?.headers['idempotency-key'],
      byAccount.get(R2)?.headers['idempotency-key'],
    );
    const inv = await call(h.app, 'GET', `/client/v4/accounts/${R1}/shared-resources`, { token: TOKENS.r1 });
    assertSuccess(inv);
    assert.deepEqual(
      (inv.body.result as { id: string }[]).map((r) => r.id),
      [inventoried.id],
    );
  });

  test('given an applied resource, when a new version is refused with 400, then the recipient is associated with version 1 and the terminal error, and removal still removes version 1', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource, recipientId } = share;
    await reconciler.reconcileOnce();
    receiver.script([{ status: 400, body: '{"errors":[{"code":1,"message":"policy rejected"}]}' }]);
    assertSuccess(
      await call(h.app, 'PUT', `${base()}/${share.id}/resources/${resource.id}`, {
        body: { meta: { rule: 'x' } },
      }),
    );
    const report = await reconciler.reconcileOnce();
    assertReport(report, 1, 0, 1);
    assert.deepEqual(report.transitions, [
      { entity: 'recipient', id: recipientId, from: 'associating', to: 'associated' },
    ]);
    assert.equal(receiver.requests.length, 2);
    assert.equal(receiver.requests[1]?.body.resource.resource_version, 2);
    await assertAssociated(share.id, resource.resource_id, 1, 'policy rejected', true);
    assertSuccess(await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${recipientId}`));
    assertReport(await reconciler.reconcileOnce(), 1, 0, 1);
    assert.equal(receiver.requests.length, 3);
    assert.equal(receiver.requests[2]?.body.action, 'remove');
    assert.deepEqual(await recipient(share.id), { status: 'disassociated', resources: [] });
  });

  test('given a resource updated while its delivery is in flight, when the pass ends, then the new version has been delivered too', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource } = share;
    let put: Reply | undefined;
    receiver.onRequest = async (req) => {
      if (req.body.resource.resource_version !== 1) return;
      put = await call(h.app, 'PUT', `${base()}/${share.id}/resources/${resource.id}`, {
        body: { meta: { rule: 'newer' } },
      });
    };
    const report = await reconciler.reconcileOnce();
    assert.deepEqual(receiver.hookErrors, []);
    assert.ok(put);
    assertSuccess(put);
    assert.equal(report.retried, 0);
    assert.deepEqual(
      receiver.requests.map((r) => [r.body.action, r.body.resource.resource_version, r.body.resource.meta]),
      [
        ['apply', 1, { rule: 'deny', n: 1 }],
        ['apply', 2, { rule: 'newer' }],
      ],
    );
    await assertAssociated(share.id, resource.resource_id, 2);
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  });

  test('given a recipient deleted while its apply is in flight, when the pass ends, then the resource was removed again and it is disassociated', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { recipientId } = share;
    let del: Reply | undefined;
    receiver.onRequest = async (req) => {
      if (req.body.action !== 'apply') return;
      del = await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${recipientId}`);
    };
    const report = await reconciler.reconcileOnce();
    assert.deepEqual(receiver.hookErrors, []);
    assert.ok(del);
    assertSuccess(del);
    assert.deepEqual(
      receiver.requests.map((r) => r.body.action),
      ['apply', 'remove'],
    );
    assert.deepEqual(report.transitions, [
      { entity: 'recipient', id: recipientId, from: 'disassociating', to: 'disassociated' },
    ]);
    assert.deepEqual(await recipient(share.id), { status: 'disassociated', resources: [] });
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  });

  test('given a receiver refusing a removal with 400, when the recipient is deleted, then it ends disassociated with the refusal shown as terminal', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource, recipientId } = share;
    await reconciler.reconcileOnce();
    receiver.script([{ status: 400, body: '{"errors":[{"code":2,"message":"still in use"}]}' }]);
    assertSuccess(await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${recipientId}`));
    assertReport(await reconciler.reconcileOnce(), 1, 0, 1);
    await assertRecipient(
      share.id,
      'disassociated',
      resource.resource_id,
      0,
      'Removal refused: still in use',
      true,
    );
    assert.equal(receiver.requests.length, 2);
  });

  test('given a recipient whose removal was refused, when it is added back, then the resource is applied again', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { resource, recipientId } = share;
    await reconciler.reconcileOnce();
    receiver.script([{ status: 400, body: '{"errors":[{"code":2,"message":"still in use"}]}' }]);
    await removeAndAddBack(reconciler, share.id, recipientId);
    await assertAssociated(share.id, resource.resource_id, 1);
  });

  test('given an apply that timed out (the receiver may have applied it), when the recipient is deleted, then a remove event is still sent', async () => {
    receiver.script(['hang']);
    const reconciler = reconcilerFor(url, 200);
    const share = await hookedShare();
    const timedOut = await reconcileTimingOut(reconciler);
    assertReport(timedOut.report, 1, 1, 0);
    assert.deepEqual(timedOut.asked, [200]);
    assertSuccess(
      await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${share.recipientIds.get(R1)}`),
    );
    await reconciler.reconcileOnce();
    assert.equal(receiver.requests.length, 2);
    assert.equal(receiver.requests[1]?.body.action, 'remove');
  });

  test('given a recipient removed and added back at the same resource version, when it is applied again, then the apply carries a new idempotency key', async () => {
    const reconciler = reconcilerFor(url);
    const share = await hookedShare();
    const { recipientId } = share;
    await reconciler.reconcileOnce();
    await removeAndAddBack(reconciler, share.id, recipientId);
    assert.notEqual(
      receiver.requests[2]?.headers['idempotency-key'],
      receiver.requests[0]?.headers['idempotency-key'],
    );
  });
});

async function inventoryOfR1(): Promise<unknown[]> {
  const res = await call(h.app, 'GET', `/client/v4/accounts/${R1}/shared-resources`, { token: TOKENS.r1 });
  assertSuccess(res);
  return res.body.result;
}
