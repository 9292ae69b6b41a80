import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveShareRecipients } from '../src/engine/reconciler/derive.js';
import { planOrganizationShare } from '../src/engine/reconciler/organization.js';
import type { OrganizationShareState, RecipientsWrite } from '../src/engine/reconciler/store.js';
import { newId } from '../src/lib/ids.js';
import { base, call, hexId, ORG, OWNER, R1, R2, R3, seedShareBody, setup, type Harness } from './helpers.js';

/**
 * Organization-targeted shares derive their recipients in two steps: the engine reads the share's state
 * and plans (planOrganizationShare), then the store writes the plan in one transaction, but only if that
 * state still holds; otherwise the engine reads and plans again.
 */

let h: Harness;
let shareId: string;

beforeEach(async () => {
  h = await setup();
  const created = await call(h.app, 'POST', base(), {
    body: { ...seedShareBody(), recipients: [{ organization_id: ORG }] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  shareId = created.body.result.id as string;
});
afterEach(() => h.close());

async function recipients(): Promise<string[]> {
  const rows = await h.sql(
    'SELECT account_id, desired_status FROM share_recipients WHERE share_id = ? ORDER BY account_id',
    shareId,
  );
  return rows.map((r) => `${r.account_id as string} ${r.desired_status as string}`);
}

async function recipientWork(): Promise<number> {
  const [row] = await h.sql("SELECT COUNT(*) AS n FROM reconcile_work WHERE kind = 'recipient'");
  return Number(row?.n);
}

async function exclude(accountId: string): Promise<void> {
  const res = await call(h.app, 'POST', `${base()}/${shareId}/excluded-recipients`, {
    body: { account_id: accountId },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

async function join(accountId: string): Promise<void> {
  const now = h.clock.timestamp();
  await h.store.tenancy.upsertAccount({
    id: accountId,
    name: accountId,
    organization_id: ORG,
    entitlements: null,
    created: now,
    modified: now,
  });
}

/** The engine's plan for `read`, every member without a recipient added. */
function planOf(read: OrganizationShareState): RecipientsWrite {
  const plan = planOrganizationShare(
    new Set(read.members),
    read.share.account_id,
    new Set(read.excluded),
    read.current,
  );
  return { change: plan.change, add: plan.add.map((accountId) => ({ id: newId(), accountId })) };
}

async function readShare(): Promise<OrganizationShareState> {
  const read = await h.store.reconciler.organizationShare(shareId);
  assert.ok(read, 'an active organization share');
  return read;
}

describe('ReconcilerStore.writeShareRecipients', () => {
  test('given a plan made from the current state, when written, then every member but the owner gets an associating recipient and its work', async () => {
    const read = await readShare();
    assert.deepEqual([...read.members].sort(), [OWNER, R1, R2, R3].sort());
    assert.equal(
      await h.store.reconciler.writeShareRecipients(read, planOf(read), h.clock.timestamp()),
      true,
    );
    assert.deepEqual(await recipients(), [`${R1} associated`, `${R2} associated`, `${R3} associated`]);
    assert.equal(await recipientWork(), 3);
  });

  test('given a plan read before an account was excluded, when written, then the store refuses it and writes nothing', async () => {
    const read = await readShare();
    const plan = planOf(read);
    await exclude(R2);
    assert.equal(await h.store.reconciler.writeShareRecipients(read, plan, h.clock.timestamp()), false);
    assert.deepEqual(await recipients(), []);
    assert.equal(await recipientWork(), 0);
  });

  test('given a plan read before an account joined the organization, when written, then the store refuses it and writes nothing', async () => {
    const read = await readShare();
    const plan = planOf(read);
    await join(hexId(300, 'c'));
    assert.equal(await h.store.reconciler.writeShareRecipients(read, plan, h.clock.timestamp()), false);
    assert.deepEqual(await recipients(), []);
    assert.equal(await recipientWork(), 0);
  });

  test('given a plan read before a recipient was changed, when written, then the store refuses it and keeps the change', async () => {
    const first = await readShare();
    assert.equal(
      await h.store.reconciler.writeShareRecipients(first, planOf(first), h.clock.timestamp()),
      true,
    );
    const read = await readShare();
    await exclude(R1);
    const plan: RecipientsWrite = { change: [{ accountId: R1, to: 'associated' }], add: [] };
    assert.equal(await h.store.reconciler.writeShareRecipients(read, plan, h.clock.timestamp()), false);
    assert.deepEqual(await recipients(), [`${R1} disassociated`, `${R2} associated`, `${R3} associated`]);
  });

  test('given a plan read before the share was deleted, when written, then the store refuses it and the share gets no recipient', async () => {
    const read = await readShare();
    const plan = planOf(read);
    const deleted = await call(h.app, 'DELETE', `${base()}/${shareId}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(await h.store.reconciler.organizationShare(shareId), undefined);
    assert.equal(await h.store.reconciler.writeShareRecipients(read, plan, h.clock.timestamp()), false);
    assert.deepEqual(await recipients(), []);
  });
});

describe('deriveShareRecipients', () => {
  test('given an exclusion made between its read and its write, when deriving, then it plans again and the excluded account gets no recipient', async () => {
    let writes = 0;
    const store = {
      organizationShare: (id: string) => h.store.reconciler.organizationShare(id),
      async writeShareRecipients(read: OrganizationShareState, plan: RecipientsWrite, modified: string) {
        if (writes++ === 0) await exclude(R2);
        return h.store.reconciler.writeShareRecipients(read, plan, modified);
      },
    };
    const result = await deriveShareRecipients(store, shareId, h.clock.timestamp(), newId, Infinity);
    assert.deepEqual(result, { changed: 2, more: false });
    assert.equal(writes, 2);
    assert.deepEqual(await recipients(), [`${R1} associated`, `${R3} associated`]);
  });

  test('given a share that changes under every plan, when deriving, then it gives up after five plans with an error and writes nothing', async () => {
    let writes = 0;
    const store = {
      organizationShare: (id: string) => h.store.reconciler.organizationShare(id),
      async writeShareRecipients(read: OrganizationShareState, plan: RecipientsWrite, modified: string) {
        await join(hexId(400 + writes++, 'c'));
        return h.store.reconciler.writeShareRecipients(read, plan, modified);
      },
    };
    await assert.rejects(deriveShareRecipients(store, shareId, h.clock.timestamp(), newId, Infinity), {
      message: `share ${shareId} changed under every plan of its recipients`,
    });
    assert.equal(writes, 5);
    assert.deepEqual(await recipients(), []);
  });

  test('given a limit below the members lacking a recipient, when deriving, then it adds that many and says there are more', async () => {
    assert.deepEqual(
      await deriveShareRecipients(h.store.reconciler, shareId, h.clock.timestamp(), newId, 2),
      {
        changed: 2,
        more: true,
      },
    );
    assert.equal((await recipients()).length, 2);
    assert.deepEqual(
      await deriveShareRecipients(h.store.reconciler, shareId, h.clock.timestamp(), newId, 2),
      {
        changed: 1,
        more: false,
      },
    );
    assert.deepEqual(await recipients(), [`${R1} associated`, `${R2} associated`, `${R3} associated`]);
  });
});
