import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDrivers } from '../src/engine/reconciler/drivers/index.js';
import type { DeliveryDriver } from '../src/engine/reconciler/drivers/types.js';
import type { Reconciler, ReconcileReport, TransitionRecord } from '../src/engine/reconciler/reconciler.js';
import type { PendingDelivery, RecipientResult, ReconcilerStore } from '../src/engine/reconciler/store.js';
import { deriveShareRecipients } from '../src/engine/reconciler/derive.js';
import { newId } from '../src/lib/ids.js';
import {
  assertError,
  base,
  call,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  R3,
  setup,
  TOKENS,
  type Harness,
  TIMESTAMP,
} from './helpers.js';
import { buildReconciler } from './support/reconciler.js';
import { assertSuccess, nonEmpty } from './support/assert.js';
import {
  addMember,
  addToken,
  createShare,
  recipientList,
  statuses,
  toAccounts,
  type Recipient,
  type Resource,
} from './support/shares.js';

interface Counts {
  associating: number;
  associated: number;
  disassociating: number;
  disassociated: number;
}

let h: Harness;
let reconciler: Reconciler;

/** A reconciler over the harness store with the default (inventory) driver for every resource type. */
function newReconciler(workerId?: string): Reconciler {
  return buildReconciler({ store: h.store, clock: h.clock, workerId });
}

/** A reconciler that sends every resource type to `driver`. */
function newReconcilerWith(driver: DeliveryDriver): Reconciler {
  return buildReconciler({ store: h.store, clock: h.clock, drivers: { for: () => driver, inProcess: true } });
}

beforeEach(async () => {
  h = await setup();
  reconciler = newReconciler();
  // setup() creates accounts, which queues organization re-derivation work: start from an empty queue.
  await reconciler.reconcileOnce();
  assert.equal(await h.store.reconciler.pendingCount(), 0);
});
afterEach(async () => {
  await h.close();
});

const ruleset = (n: number, meta: Record<string, unknown> = { mode: 'block', n }) => ({
  resource_account_id: OWNER,
  resource_id: hexId(n, 'e'),
  resource_type: 'custom-ruleset',
  meta,
});

/** A new share owned by OWNER; `recipients` are accounts, or 'organization' for the whole of ORG. */
async function reconciledShare(
  recipients: string[] | 'organization',
  resources = [ruleset(1)],
): Promise<{ id: string }> {
  return createShare(h.app, {
    name: 'reconciled',
    recipients: recipients === 'organization' ? [{ organization_id: ORG }] : toAccounts(recipients),
    resources,
  });
}

const recipients = (shareId: string, include = true) => recipientList(h.app, shareId, { include });

async function recipientOf(shareId: string, account: string): Promise<Recipient> {
  const r = (await recipients(shareId)).find((x) => x.account_id === account);
  assert.ok(r, `no recipient for ${account}`);
  return r;
}

async function counts(shareId: string): Promise<Counts> {
  const res = await call(h.app, 'GET', `${base()}/${shareId}?include_recipient_counts=true`);
  assertSuccess(res);
  const s = res.body.result;
  return {
    associating: s.associating_recipient_count,
    associated: s.associated_recipient_count,
    disassociating: s.disassociating_recipient_count,
    disassociated: s.disassociated_recipient_count,
  };
}

async function resources(shareId: string): Promise<Resource[]> {
  const res = await call(h.app, 'GET', `${base()}/${shareId}/resources?per_page=100`);
  assertSuccess(res);
  return res.body.result;
}

async function shareStatus(shareId: string): Promise<string> {
  const res = await call(h.app, 'GET', `${base()}/${shareId}`);
  assertSuccess(res);
  return res.body.result.status;
}

/** What the inventory driver applied in `account`, read as that account through the API. */
async function inventory(account: string, token: string): Promise<Record<string, unknown>[]> {
  const res = await call(h.app, 'GET', `/client/v4/accounts/${account}/shared-resources?per_page=50`, {
    token,
  });
  assertSuccess(res);
  assert.equal(res.body.result_info.count, res.body.result.length);
  assert.equal(res.body.result_info.total_count, res.body.result.length);
  return res.body.result;
}

/** The inventory row the driver must have written for `resource` of `shareId`. */
function applied(shareId: string, resource: Resource, stamps: { created: string; modified: string }) {
  return {
    id: resource.id,
    share_id: shareId,
    resource_id: resource.resource_id,
    resource_type: resource.resource_type,
    resource_account_id: resource.resource_account_id,
    meta: resource.meta,
    resource_version: resource.resource_version,
    ...stamps,
  };
}

/** Inventory rows of `account` straight from the store, for accounts without a token. */
async function storedInventory(account: string) {
  return (await h.store.inventory.list(account, 1000, 0)).rows;
}

const byKey = (t: TransitionRecord) => `${t.entity} ${t.id} ${t.from} ${t.to}`;
const sortTransitions = (ts: TransitionRecord[]) => [...ts].sort((a, b) => byKey(a).localeCompare(byKey(b)));

function recipientTransitions(ids: string[], from: string, to: string): TransitionRecord[] {
  return ids.map((id) => ({ entity: 'recipient' as const, id, from, to }));
}

function assertReport(report: ReconcileReport, processed: number, transitions: TransitionRecord[]): void {
  assert.equal(report.processed, processed, JSON.stringify(report));
  assert.equal(report.retried, 0);
  assert.deepEqual(sortTransitions(report.transitions), sortTransitions(transitions));
}

const ok = (resource: Resource) => ({
  resource_id: resource.resource_id,
  resource_version: resource.resource_version,
  error: '',
  terminal: false,
});

describe('Reconciler: account-targeted share', () => {
  test('given a new account share, when the reconciler runs, then its recipients become associated and hold the resource at version 1', async () => {
    const share = await reconciledShare([R1, R2]);
    const [resource] = await resources(share.id);
    assert.ok(resource);
    const before = await recipients(share.id);
    assert.deepEqual(before.map((r) => [r.account_id, r.association_status, r.resources]).sort(), [
      [R1, 'associating', []],
      [R2, 'associating', []],
    ]);
    assert.deepEqual(await counts(share.id), {
      associating: 2,
      associated: 0,
      disassociating: 0,
      disassociated: 0,
    });
    assert.deepEqual(await inventory(R1, TOKENS.r1), []);

    h.clock.advance(1000);
    const report = await reconciler.reconcileOnce();
    assertReport(
      report,
      2,
      recipientTransitions(
        before.map((r) => r.id),
        'associating',
        'associated',
      ),
    );

    const after = await recipients(share.id);
    for (const r of after) {
      const old = before.find((b) => b.id === r.id);
      assert.ok(old);
      assert.deepEqual(r, {
        id: old.id,
        account_id: old.account_id,
        association_status: 'associated',
        created: old.created,
        modified: r.modified,
        resources: [{ resource_id: resource.resource_id, resource_version: 1, error: '', terminal: false }],
      });
      assert.match(r.modified, TIMESTAMP);
      assert.ok(r.modified > old.modified, `${r.modified} > ${old.modified}`);
      assert.ok(r.modified.startsWith(new Date(h.clock.now()).toISOString().slice(0, 23)));
      // The single-recipient route shows the same, and nothing about resources without the flag.
      const one = await call(h.app, 'GET', `${base()}/${share.id}/recipients/${r.id}?include_resources=true`);
      assertSuccess(one);
      assert.deepEqual(one.body.result, r);
      const bare = await call(h.app, 'GET', `${base()}/${share.id}/recipients/${r.id}`);
      assertSuccess(bare);
      const { resources: _resources, ...withoutResources } = r;
      assert.deepEqual(bare.body.result, withoutResources);
    }
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 2,
      disassociating: 0,
      disassociated: 0,
    });

    for (const [account, token] of [
      [R1, TOKENS.r1],
      [R2, TOKENS.r2],
    ] as const) {
      const rows = await inventory(account, token);
      assert.equal(rows.length, 1);
      const row = rows[0] as { created: string; modified: string };
      assert.match(row.created, TIMESTAMP);
      assert.equal(row.modified, row.created);
      assert.deepEqual(row, applied(share.id, resource, row));
      assert.deepEqual(row.meta, { mode: 'block', n: 1 });
    }
    assert.deepEqual(await storedInventory(OWNER), []);
    assert.deepEqual(await storedInventory(R3), []);
    // An account reads only its own inventory.
    assertError(
      await call(h.app, 'GET', `/client/v4/accounts/${R2}/shared-resources`, { token: TOKENS.r1 }),
      403,
      10000,
      'Authentication error',
    );
  });

  test('given an associated share, when a resource is added, then recipients go back to associating at once and hold both after the reconciler runs', async () => {
    const share = await reconciledShare([R1, R2]);
    await reconciler.reconcileOnce();
    const added = await call(h.app, 'POST', `${base()}/${share.id}/resources`, { body: ruleset(2) });
    assertSuccess(added, 201);
    assert.deepEqual(await statuses(h.app, share.id), { [R1]: 'associating', [R2]: 'associating' });
    const [first, second] = await resources(share.id);
    assert.ok(first && second);
    assert.equal(second.id, added.body.result.id);
    // Until the reconciler runs only the first resource is delivered.
    assert.deepEqual((await recipientOf(share.id, R1)).resources, [ok(first)]);
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1);

    const report = await reconciler.reconcileOnce();
    const ids = (await recipients(share.id)).map((r) => r.id);
    assertReport(report, 2, recipientTransitions(ids, 'associating', 'associated'));
    for (const [account, token] of [
      [R1, TOKENS.r1],
      [R2, TOKENS.r2],
    ] as const) {
      const r = await recipientOf(share.id, account);
      assert.equal(r.association_status, 'associated');
      assert.deepEqual(r.resources, [ok(first), ok(second)]);
      const rows = await inventory(account, token);
      assert.deepEqual(
        rows.map((row) => row.id),
        [first.id, second.id],
      );
      assert.deepEqual(rows[1], applied(share.id, second, rows[1] as { created: string; modified: string }));
    }
  });

  test('given an associated share, when a resource meta is updated, then version 2 with the new meta reaches every recipient inventory', async () => {
    const share = await reconciledShare([R1, R2, R3]);
    await reconciler.reconcileOnce();
    const [resource] = await resources(share.id);
    assert.ok(resource);
    const v1 = await inventory(R1, TOKENS.r1);
    h.clock.advance(5000);
    const put = await call(h.app, 'PUT', `${base()}/${share.id}/resources/${resource.id}`, {
      body: { meta: { mode: 'log', extra: [1, 2] } },
    });
    assertSuccess(put);
    assert.equal(put.body.result.resource_version, 2);
    assert.deepEqual(await statuses(h.app, share.id), {
      [R1]: 'associating',
      [R2]: 'associating',
      [R3]: 'associating',
    });
    // Still version 1 everywhere until the reconciler has run.
    assert.deepEqual(await inventory(R1, TOKENS.r1), v1);
    assert.equal((await recipientOf(share.id, R1)).resources?.[0]?.resource_version, 1);

    const report = await reconciler.reconcileOnce();
    assert.equal(report.processed, 3);
    assert.equal(report.transitions.length, 3);
    const [updated] = await resources(share.id);
    assert.ok(updated);
    assert.equal(updated.resource_version, 2);
    for (const account of [R1, R2, R3]) {
      const r = await recipientOf(share.id, account);
      assert.equal(r.association_status, 'associated');
      assert.deepEqual(r.resources, [ok(updated)]);
      const rows = await storedInventory(account);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.resource_version, 2);
      assert.deepEqual(rows[0]?.meta, { mode: 'log', extra: [1, 2] });
    }
    const [row] = await inventory(R1, TOKENS.r1);
    const first = v1[0] as { created: string; modified: string };
    // Re-applied in place: created is the first application, modified the new one.
    assert.deepEqual(
      row,
      applied(share.id, updated, { created: first.created, modified: String(row?.modified) }),
    );
    assert.ok(String(row?.modified) > first.modified);
  });

  test('given an associated share with two resources, when one is deleted, then it leaves every inventory and becomes deleted after the reconciler runs', async () => {
    const share = await reconciledShare([R1, R2], [ruleset(1), ruleset(2)]);
    await reconciler.reconcileOnce();
    const [keep, gone] = await resources(share.id);
    assert.ok(keep && gone);
    const del = await call(h.app, 'DELETE', `${base()}/${share.id}/resources/${gone.id}`);
    assertSuccess(del);
    assert.equal(del.body.result.status, 'deleting');
    // Removing a resource does not send recipients back to associating.
    assert.deepEqual(await statuses(h.app, share.id), { [R1]: 'associated', [R2]: 'associated' });
    assert.equal((await inventory(R1, TOKENS.r1)).length, 2);

    const report = await reconciler.reconcileOnce();
    assert.equal(report.retried, 0);
    assert.deepEqual(
      report.transitions.filter((t) => t.entity === 'recipient'),
      [],
    );
    assert.deepEqual(
      report.transitions.filter((t) => t.entity === 'resource'),
      [{ entity: 'resource', id: gone.id, from: 'deleting', to: 'deleted' }],
    );
    const after = await resources(share.id);
    assert.deepEqual(
      after.map((r) => [r.id, r.status]),
      [
        [keep.id, 'active'],
        [gone.id, 'deleted'],
      ],
    );
    for (const [account, token] of [
      [R1, TOKENS.r1],
      [R2, TOKENS.r2],
    ] as const) {
      assert.deepEqual(
        (await inventory(account, token)).map((r) => r.id),
        [keep.id],
      );
      const r = await recipientOf(share.id, account);
      assert.equal(r.association_status, 'associated');
      assert.deepEqual(r.resources, [ok(keep)]);
    }
    assert.equal(await shareStatus(share.id), 'active');
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  });

  test('given a resource being deleted, when the same resource is shared again before and after the reconciler has run, then 409 first, then inventories hold only the new share resource', async () => {
    const share = await reconciledShare([R1]);
    await reconciler.reconcileOnce();
    const [old] = await resources(share.id);
    assert.ok(old);
    assertSuccess(await call(h.app, 'DELETE', `${base()}/${share.id}/resources/${old.id}`));
    const early = await call(h.app, 'POST', `${base()}/${share.id}/resources`, {
      body: ruleset(1, { mode: 'again' }),
    });
    assertError(early, 409, 1409, `Resource custom-ruleset ${old.resource_id} is already part of the share`);
    assert.equal(early.headers['x-should-retry'], 'false');
    await reconciler.reconcileOnce();
    assert.deepEqual(await inventory(R1, TOKENS.r1), []);
    const again = await call(h.app, 'POST', `${base()}/${share.id}/resources`, {
      body: ruleset(1, { mode: 'again' }),
    });
    assertSuccess(again, 201);
    assert.notEqual(again.body.result.id, old.id);
    assert.equal(again.body.result.resource_version, 1);
    assert.equal((await recipientOf(share.id, R1)).association_status, 'associating');
    const report = await reconciler.reconcileOnce();
    assert.equal(report.retried, 0);
    assert.deepEqual(
      (await resources(share.id)).map((r) => [r.id, r.status]),
      [
        [old.id, 'deleted'],
        [again.body.result.id, 'active'],
      ],
    );
    const rows = await inventory(R1, TOKENS.r1);
    assert.deepEqual(
      rows.map((r) => [r.id, r.resource_id, r.meta]),
      [[again.body.result.id, old.resource_id, { mode: 'again' }]],
    );
    const r1 = await recipientOf(share.id, R1);
    assert.equal(r1.association_status, 'associated');
    assert.deepEqual(r1.resources, [
      { resource_id: old.resource_id, resource_version: 1, error: '', terminal: false },
    ]);
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  });

  test('given an associated recipient, when it is deleted and later added back, then it goes disassociated with an empty inventory and then associated again', async () => {
    const share = await reconciledShare([R1, R2]);
    await reconciler.reconcileOnce();
    const r1 = await recipientOf(share.id, R1);
    const del = await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${r1.id}`);
    assertSuccess(del);
    assert.equal(del.body.result.association_status, 'disassociating');
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1, 'nothing removed before the reconciler runs');

    let report = await reconciler.reconcileOnce();
    assertReport(report, 1, recipientTransitions([r1.id], 'disassociating', 'disassociated'));
    const gone = await recipientOf(share.id, R1);
    assert.equal(gone.association_status, 'disassociated');
    assert.deepEqual(gone.resources, []);
    assert.deepEqual(await inventory(R1, TOKENS.r1), []);
    assert.equal((await inventory(R2, TOKENS.r2)).length, 1, 'other recipients keep theirs');
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 1,
      disassociating: 0,
      disassociated: 1,
    });

    const back = await call(h.app, 'POST', `${base()}/${share.id}/recipients`, {
      body: { recipient_account_id: R1 },
    });
    assertSuccess(back, 201);
    assert.equal(back.body.result.id, r1.id);
    assert.equal(back.body.result.association_status, 'associating');
    report = await reconciler.reconcileOnce();
    assertReport(report, 1, recipientTransitions([r1.id], 'associating', 'associated'));
    const [resource] = await resources(share.id);
    assert.ok(resource);
    assert.deepEqual((await recipientOf(share.id, R1)).resources, [ok(resource)]);
    assert.deepEqual(
      (await inventory(R1, TOKENS.r1)).map((r) => [r.id, r.resource_version]),
      [[resource.id, 1]],
    );
  });

  test('given an associated share, when it is deleted, then after the reconciler runs it is deleted with every recipient disassociated, every resource deleted and inventories empty', async () => {
    const share = await reconciledShare([R1, R2, R3], [ruleset(1), ruleset(2)]);
    await reconciler.reconcileOnce();
    const all = await recipients(share.id);
    const resourceIds = (await resources(share.id)).map((r) => r.id);
    const r3 = all.find((r) => r.account_id === R3);
    assert.ok(r3);
    assertSuccess(await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${r3.id}`));
    await reconciler.reconcileOnce();

    const del = await call(h.app, 'DELETE', `${base()}/${share.id}`);
    assertSuccess(del);
    assert.equal(del.body.result.status, 'deleting');
    assert.deepEqual(await statuses(h.app, share.id), {
      [R1]: 'disassociating',
      [R2]: 'disassociating',
      [R3]: 'disassociated',
    });
    assert.deepEqual(
      (await resources(share.id)).map((r) => r.status),
      ['deleting', 'deleting'],
    );

    const report = await reconciler.reconcileOnce();
    assert.equal(report.retried, 0);
    const live = all.filter((r) => r.account_id !== R3).map((r) => r.id);
    assert.deepEqual(
      sortTransitions(report.transitions),
      sortTransitions([
        ...recipientTransitions(live, 'disassociating', 'disassociated'),
        ...resourceIds.map((id) => ({ entity: 'resource' as const, id, from: 'deleting', to: 'deleted' })),
        { entity: 'share', id: share.id, from: 'deleting', to: 'deleted' },
      ]),
    );
    assert.equal(await shareStatus(share.id), 'deleted');
    assert.deepEqual(await statuses(h.app, share.id), {
      [R1]: 'disassociated',
      [R2]: 'disassociated',
      [R3]: 'disassociated',
    });
    for (const r of nonEmpty(await recipients(share.id), 'recipients')) assert.deepEqual(r.resources, []);
    assert.deepEqual(
      (await resources(share.id)).map((r) => r.status),
      ['deleted', 'deleted'],
    );
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 0,
      disassociating: 0,
      disassociated: 3,
    });
    assert.deepEqual(await inventory(R1, TOKENS.r1), []);
    assert.deepEqual(await inventory(R2, TOKENS.r2), []);
    assert.deepEqual(await storedInventory(R3), []);
    assert.equal(await h.store.reconciler.pendingCount(), 0);
    const metrics = await reconciler.metrics.registry.metrics();
    assert.match(
      metrics,
      /^rshare_status_transitions_total\{entity="resource",from="deleting",to="deleted"\} 2$/m,
    );
    assert.match(
      metrics,
      /^rshare_status_transitions_total\{entity="share",from="deleting",to="deleted"\} 1$/m,
    );
  });
});

describe('Reconciler: organization-targeted share', () => {
  test('given 50 more accounts in the organization, when sharing with it and excluding then re-including one, then the recipients and counts follow at each step', async () => {
    const now = h.clock.timestamp();
    const extra = Array.from({ length: 50 }, (_, i) => hexId(100 + i, 'f'));
    for (const [i, id] of extra.entries()) {
      await addMember(h, id, `Member ${i}`, now);
    }
    const target = extra[17] as string;
    const targetToken = 'member-seventeen-token-secret';
    await addToken(h, 99, targetToken, target, { name: 'member-17', created: now });
    await reconciler.reconcileOnce(); // the organization re-derivation queued by the new members

    const share = await reconciledShare('organization');
    const members = [R1, R2, R3, ...extra];
    // The create answers before the fan-out: the reconciler derives the recipients from the members.
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 0,
      disassociating: 0,
      disassociated: 0,
    });
    const report = await reconciler.reconcileOnce(); // the share item, then its 53 recipients
    const all = await recipients(share.id, false);
    assert.deepEqual(all.map((r) => r.account_id).sort(), [...members].sort());
    assertReport(
      report,
      54,
      recipientTransitions(
        all.map((r) => r.id),
        'associating',
        'associated',
      ),
    );
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 53,
      disassociating: 0,
      disassociated: 0,
    });
    const [resource] = await resources(share.id);
    assert.ok(resource);
    for (const account of members) {
      assert.deepEqual(
        (await storedInventory(account)).map((r) => [r.share_resource_id, r.resource_version]),
        [[resource.id, 1]],
        account,
      );
    }
    assert.equal((await inventory(target, targetToken)).length, 1);

    const excluded = await call(h.app, 'POST', `${base()}/${share.id}/excluded-recipients`, {
      body: { account_id: target },
    });
    assertSuccess(excluded, 201);
    assert.equal((await recipientOf(share.id, target)).association_status, 'disassociating');
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 52,
      disassociating: 1,
      disassociated: 0,
    });
    const recipientId = (await recipientOf(share.id, target)).id;
    assertReport(
      await reconciler.reconcileOnce(),
      1,
      recipientTransitions([recipientId], 'disassociating', 'disassociated'),
    );
    assert.equal((await recipientOf(share.id, target)).association_status, 'disassociated');
    assert.deepEqual(await inventory(target, targetToken), []);
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 52,
      disassociating: 0,
      disassociated: 1,
    });
    assert.equal((await storedInventory(R1)).length, 1, 'the others keep the resource');

    const include = await call(
      h.app,
      'DELETE',
      `${base()}/${share.id}/excluded-recipients/${excluded.body.result.id}`,
    );
    assertSuccess(include);
    assert.equal((await recipientOf(share.id, target)).association_status, 'associating');
    assert.deepEqual(await counts(share.id), {
      associating: 1,
      associated: 52,
      disassociating: 0,
      disassociated: 0,
    });
    assertReport(
      await reconciler.reconcileOnce(),
      1,
      recipientTransitions([recipientId], 'associating', 'associated'),
    );
    assert.equal((await recipientOf(share.id, target)).id, recipientId, 'the recipient record is reused');
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 53,
      disassociating: 0,
      disassociated: 0,
    });
    assert.deepEqual(
      (await inventory(target, targetToken)).map((r) => r.id),
      [resource.id],
    );
  });
});

describe('Reconciler: organization fan-out in the reconciler', () => {
  test('given an organization share excluding R2 before its fan-out, when members join and leave, then one pass derives and associates the members, and later passes follow membership', async () => {
    const share = await reconciledShare('organization');
    // The create answered with the share only; its recipients do not exist yet.
    assert.deepEqual(await recipients(share.id, false), []);
    assertSuccess(
      await call(h.app, 'POST', `${base()}/${share.id}/excluded-recipients`, { body: { account_id: R2 } }),
      201,
    );
    const first = await reconciler.reconcileOnce();
    assert.deepEqual(await statuses(h.app, share.id), { [R1]: 'associated', [R3]: 'associated' });
    assert.equal(first.transitions.length, 2);
    assert.equal(await h.store.reconciler.pendingCount(), 0);

    // An account-targeted share to R3, then R3 leaves and a newcomer joins.
    const direct = await reconciledShare([R3]);
    await reconciler.reconcileOnce();
    const newcomer = hexId(0x99, 'f');
    await addMember(h, newcomer, 'Newcomer');
    const r3 = await h.store.tenancy.getAccount(R3);
    assert.ok(r3);
    await h.store.tenancy.upsertAccount({ ...r3, organization_id: null, modified: h.clock.timestamp() });
    await reconciler.reconcileOnce();
    assert.deepEqual(await statuses(h.app, share.id), {
      [R1]: 'associated',
      [R3]: 'disassociated',
      [newcomer]: 'associated',
    });
    assert.deepEqual(await statuses(h.app, direct.id), { [R3]: 'disassociated' });
    assert.deepEqual(await storedInventory(R3), []);
    assert.equal((await storedInventory(newcomer)).length, 1);
    assert.deepEqual(await h.sql('SELECT * FROM organization_departures'), [], 'departures are consumed');
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  });
});

describe('Reconciler: idempotency, leases and metrics', () => {
  test('given converged work, when reconcileOnce runs again or a recipient is queued again, then nothing changes and no inventory row is duplicated', async () => {
    const share = await reconciledShare([R1, R2], [ruleset(1), ruleset(2)]);
    const first = await reconciler.reconcileOnce();
    assert.equal(first.processed, 2);
    const inventoryBefore = await inventory(R1, TOKENS.r1);
    const recipientsBefore = await recipients(share.id);
    assert.equal(inventoryBefore.length, 2);

    assert.deepEqual(await reconciler.reconcileOnce(), { processed: 0, retried: 0, transitions: [] });

    // A redundant request for a converged recipient is processed but changes nothing.
    h.clock.advance(1000);
    const r1 = recipientsBefore.find((r) => r.account_id === R1);
    assert.ok(r1);
    await h.store.reconciler.enqueue('recipient', r1.id);
    await h.store.reconciler.enqueue('share', share.id);
    assert.deepEqual(await reconciler.reconcileOnce(), { processed: 2, retried: 0, transitions: [] });
    assert.deepEqual(await reconciler.reconcileOnce(), { processed: 0, retried: 0, transitions: [] });
    assert.deepEqual(await inventory(R1, TOKENS.r1), inventoryBefore);
    assert.deepEqual(await recipients(share.id), recipientsBefore);
    const rows = await h.sql(
      'SELECT account_id, COUNT(*) AS n FROM inventory GROUP BY account_id ORDER BY account_id',
    );
    assert.deepEqual(
      rows.map((r) => ({ ...(r as object) })),
      [
        { account_id: R1, n: 2 },
        { account_id: R2, n: 2 },
      ],
    );
  });

  test('given items leased by worker w1, when worker w2 runs before and after the lease expires, then it processes them only after', async () => {
    const share = await reconciledShare([R1, R2]);
    const w1 = newReconciler('w1');
    const w2 = newReconciler('w2');
    const claimed = await h.store.reconciler.claim('w1', h.clock.now(), 30000, 100);
    assert.equal(claimed.length, 2);
    assert.deepEqual(
      claimed.map((c) => [c.kind, c.attempts]),
      [
        ['recipient', 0],
        ['recipient', 0],
      ],
    );

    assert.deepEqual(await w2.reconcileOnce(), { processed: 0, retried: 0, transitions: [] });
    // The lease belongs to no reconciler in particular: w1's own instance does not take it twice either.
    assert.deepEqual(await w1.reconcileOnce(), { processed: 0, retried: 0, transitions: [] });
    h.clock.advance(29999);
    assert.deepEqual(await w2.reconcileOnce(), { processed: 0, retried: 0, transitions: [] });
    assert.deepEqual(await statuses(h.app, share.id), { [R1]: 'associating', [R2]: 'associating' });
    assert.deepEqual(await storedInventory(R1), []);
    assert.equal(await h.store.reconciler.pendingCount(), 2);

    h.clock.advance(2); // 30001 ms after the claim
    const report = await w2.reconcileOnce();
    assert.equal(report.processed, 2);
    assert.equal(report.transitions.length, 2);
    assert.deepEqual(await statuses(h.app, share.id), { [R1]: 'associated', [R2]: 'associated' });
    assert.equal((await storedInventory(R1)).length, 1);

    // The late worker's completion must not retire work queued since.
    const put = await call(
      h.app,
      'PUT',
      `${base()}/${share.id}/resources/${(await resources(share.id))[0]?.id}`,
      {
        body: { meta: { v: 2 } },
      },
    );
    assertSuccess(put);
    for (const item of claimed) await h.store.reconciler.complete('w1', item);
    assert.equal(await h.store.reconciler.pendingCount(), 2);
    assert.equal((await w2.reconcileOnce()).processed, 2);
    assert.equal((await storedInventory(R1))[0]?.resource_version, 2);
  });

  test('given 40 queued recipients, when two workers run their passes at the same time, then each recipient is processed exactly once', async () => {
    const now = h.clock.timestamp();
    const extra = Array.from({ length: 37 }, (_, i) => hexId(200 + i, 'f'));
    for (const id of extra) {
      await addMember(h, id, id, now);
    }
    await reconciler.reconcileOnce();
    const share = await reconciledShare('organization');
    // Derive the 40 recipients (and queue their work) up front, so both workers find them all due.
    assert.deepEqual(
      await deriveShareRecipients(h.store.reconciler, share.id, h.clock.timestamp(), newId, 1000),
      { changed: 40, more: false },
    );
    const w1 = newReconciler('w1');
    const w2 = newReconciler('w2');
    const [a, b] = await Promise.all([w1.reconcileOnce(), w2.reconcileOnce()]);
    // The share item (nothing left to derive), then each recipient once.
    assert.equal(a.processed + b.processed, 41);
    const ids = [...a.transitions, ...b.transitions].map((t) => t.id);
    assert.equal(ids.length, 40);
    assert.equal(new Set(ids).size, 40);
    assert.deepEqual(await counts(share.id), {
      associating: 0,
      associated: 40,
      disassociating: 0,
      disassociated: 0,
    });
    const [{ n }] = (await h.sql('SELECT COUNT(*) AS n FROM inventory')) as [{ n: number }];
    assert.equal(n, 40);
  });

  test('given a share converged and then changed, when reading the metrics, then transitions are counted by entity and status and nothing is pending at the end', async () => {
    const share = await reconciledShare([R1, R2, R3]);
    await reconciler.reconcileOnce();
    const r1 = await recipientOf(share.id, R1);
    assertSuccess(await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${r1.id}`));
    const pending = await reconciler.metrics.registry.metrics();
    assert.match(pending, /^rshare_reconcile_pending 1$/m);
    await reconciler.reconcileOnce();
    assertSuccess(
      await call(h.app, 'POST', `${base()}/${share.id}/recipients`, { body: { recipient_account_id: R1 } }),
      201,
    );
    await reconciler.reconcileOnce();

    const text = await reconciler.metrics.registry.metrics();
    assert.match(
      text,
      /^rshare_status_transitions_total\{entity="recipient",from="associating",to="associated"\} 4$/m,
    );
    assert.match(
      text,
      /^rshare_status_transitions_total\{entity="recipient",from="disassociating",to="disassociated"\} 1$/m,
    );
    assert.match(text, /^rshare_reconcile_pending 0$/m);
    assert.match(text, /^rshare_deliveries_total\{driver="inventory",action="apply",outcome="ok"\} 4$/m);
    assert.match(text, /^rshare_deliveries_total\{driver="inventory",action="remove",outcome="ok"\} 1$/m);
    assert.match(text, /^rshare_reconcile_items_total\{kind="recipient",outcome="done"\} 5$/m);
    // A reconciler of its own has counted nothing.
    const fresh = await newReconciler().metrics.registry.metrics();
    assert.doesNotMatch(fresh, /^rshare_status_transitions_total\{/m);
  });
});

/** A reconciler whose inventory deliveries reach the accounts but, while `dies()`, are never recorded. */
function dyingReconciler(dies: () => boolean) {
  const inventoryDriver = buildDrivers({}, h.store.inventory, h.clock).for('custom-ruleset');
  return newReconcilerWith({
    name: 'inventory',
    deliver: (d) => inventoryDriver.deliver(d),
    async deliverMany(ds) {
      const outcomes = await (inventoryDriver.deliverMany as NonNullable<typeof inventoryDriver.deliverMany>)(
        ds,
      );
      // What SIGKILL does between the delivery and settleRecipients: the outcome is never recorded.
      if (dies()) throw new Error('killed');
      return outcomes;
    },
  });
}

/** PUTs the share's recipients as exactly `accounts` (204). */
async function replaceRecipients(shareId: string, accounts: string[]): Promise<void> {
  const res = await call(h.app, 'PUT', `${base()}/${shareId}/recipients`, { body: toAccounts(accounts) });
  assert.equal(res.status, 204, JSON.stringify(res.body));
}

/** R1's association status once `reconciler` has had five passes, ten minutes apart (past any backoff). */
async function r1AfterRetries(reconciler: Reconciler, shareId: string): Promise<string | undefined> {
  for (let i = 0; i < 5; i++) {
    h.clock.advance(10 * 60_000);
    await reconciler.reconcileOnce();
  }
  return (await recipients(shareId)).find((r) => r.account_id === R1)?.association_status;
}

describe('Reconciler: deliveries into the store commit with their settle', () => {
  /** A reconciler over a store whose `settleRecipients` also writes `extra` results, and whose in-doubt records are kept. */
  function watchedReconciler(extra: () => RecipientResult[]) {
    const inDoubt: PendingDelivery[] = [];
    const real = h.store.reconciler;
    const watched: ReconcilerStore = Object.create(real) as ReconcilerStore;
    watched.recordInDoubt = async (deliveries, modified) => {
      inDoubt.push(...deliveries);
      return real.recordInDoubt(deliveries, modified);
    };
    watched.settleRecipients = (owner, results, modified, finalize, changes) =>
      real.settleRecipients(owner, [...results, ...extra()], modified, finalize, changes);
    return {
      inDoubt,
      reconciler: buildReconciler({ store: { ...h.store, reconciler: watched }, clock: h.clock }),
    };
  }

  test('given the inventory driver, when a pass applies and a later one removes, then no delivery is ever recorded in doubt', async () => {
    const { inDoubt, reconciler: watched } = watchedReconciler(() => []);
    const share = await reconciledShare([R1, R2], [ruleset(1)]);
    await watched.reconcileOnce();
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1);
    await replaceRecipients(share.id, [R2]);
    await watched.reconcileOnce();
    assert.deepEqual(await inventory(R1, TOKENS.r1), []);
    assert.equal((await recipientOf(share.id, R1)).association_status, 'disassociated');
    assert.deepEqual(inDoubt, []);
  });

  test('given a settle that fails inside its transaction, when the pass ends, then the account holds nothing and the next pass delivers the resource once', async () => {
    let fail = true;
    // A delivery state for a recipient that does not exist: the foreign key fails the whole settle.
    const ghost = (): RecipientResult[] =>
      fail
        ? [
            {
              item: { kind: 'recipient', id: hexId(999, 'f'), generation: 1, attempts: 0 },
              writes: [
                {
                  shareResourceId: hexId(998, 'f'),
                  state: { applied_version: 1, error: '', terminal: false, error_version: null },
                },
              ],
            },
          ]
        : [];
    const { reconciler: watched } = watchedReconciler(ghost);
    const share = await reconciledShare([R1], [ruleset(1)]);
    const first = await watched.reconcileOnce();
    assert.equal(first.retried, 1);
    assert.deepEqual(await inventory(R1, TOKENS.r1), [], 'the inventory write went back with the settle');
    const r1 = await recipientOf(share.id, R1);
    assert.equal(r1.association_status, 'associating');
    const ctx = (await h.store.reconciler.recipientContexts([r1.id])).get(r1.id);
    assert.equal(ctx?.delivered.size, 0, 'no delivery state recorded, not even in doubt');

    fail = false;
    h.clock.advance(10 * 60_000); // past the backoff
    await watched.reconcileOnce();
    assert.equal((await recipientOf(share.id, R1)).association_status, 'associated');
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1);
  });
});

describe('Reconciler: a process killed between a delivery and its record', () => {
  test('given a resource delivered but not recorded (the process died in between), when the recipient is removed before the retry, then the resource is removed from its account', async () => {
    let dies = true;
    const dying = dyingReconciler(() => dies);
    const share = await reconciledShare([R1], [ruleset(1)]);
    await dying.reconcileOnce();
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1, 'delivered before the "kill"');

    await replaceRecipients(share.id, [R2]);
    dies = false;
    assert.equal(await r1AfterRetries(dying, share.id), 'disassociated');
    assert.deepEqual(await inventory(R1, TOKENS.r1), []);
  });

  test('given a resource removed but not recorded (the process died in between), when the recipient is added back before the retry, then its account holds the resource again', async () => {
    let dies = false;
    const dying = dyingReconciler(() => dies);
    const share = await reconciledShare([R1], [ruleset(1)]);
    await dying.reconcileOnce();
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1, 'delivered and recorded');

    await replaceRecipients(share.id, [R2]);
    dies = true;
    await dying.reconcileOnce();
    assert.deepEqual(await inventory(R1, TOKENS.r1), [], 'removed before the "kill"');

    await replaceRecipients(share.id, [R1, R2]);
    dies = false;
    assert.equal(await r1AfterRetries(dying, share.id), 'associated');
    assert.equal((await inventory(R1, TOKENS.r1)).length, 1, 'the account holds the resource again');
  });
});
