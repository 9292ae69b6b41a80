import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OWNER_LEFT } from '../src/engine/reconciler/audit.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import { ENTITLEMENT_ERROR } from '../src/engine/reconciler/reconciler.js';
import { applyBootstrap } from '../src/platform/tenancy/bootstrap.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import {
  assertError,
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
  STRANGER,
  setup,
  TOKENS,
  type Harness,
} from './helpers.js';
import { buildReconciler } from './support/reconciler.js';
import { nonEmpty } from './support/assert.js';
import { addToken, R3_TOKEN, recipientsOf } from './support/shares.js';

const RESOURCE_ID = '023e105f4ecef8ad9ca31a8372d0c353';
const NEWCOMER = hexId(7, 'b');
const NEWCOMER_TOKEN = 'newcomer-token-secret-value-11';
const LATE = hexId(8, 'b');
const LATE_TOKEN = 'late-joiner-token-secret-value12';

const orgShareBody = (resourceAccount = OWNER, organization = ORG) => ({
  name: 'Org-wide ruleset',
  recipients: [{ organization_id: organization }],
  resources: [
    {
      meta: {},
      resource_account_id: resourceAccount,
      resource_id: RESOURCE_ID,
      resource_type: 'custom-ruleset',
    },
  ],
});

/** What the inventory driver holds in the account, as `share_id/resource_id@version`. */
async function inventoryOf(h: Harness, account: string, token: string): Promise<string[]> {
  const res = await call(h.app, 'GET', `/client/v4/accounts/${account}/shared-resources?per_page=50`, {
    token,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.result as { share_id: string; resource_id: string; resource_version: number }[]).map(
    (r) => `${r.share_id}/${r.resource_id}@${r.resource_version}`,
  );
}

/**
 * Asserts `account` is an associated recipient holding nothing, its resource marked with the missing
 * entitlement; returns the share's recipients.
 */
async function assertMissingEntitlement(h: Harness, shareId: string, account: string, token: string) {
  const recipients = await recipientsOf(h.app, shareId, { include: true });
  assert.equal(recipients.get(account)?.association_status, 'associated', account);
  assert.deepEqual(recipients.get(account)?.resources, [missingEntitlement], account);
  assert.deepEqual(await inventoryOf(h, account, token), [], account);
  return recipients;
}

/** A harness with a reconciler on its store, the tenancy service, and R3's token (token number `n`). */
async function withReconciler(
  n: number,
): Promise<{ h: Harness; reconciler: Reconciler; service: TenancyService }> {
  const h = await setup();
  await addToken(h, n, R3_TOKEN, R3);
  return {
    h,
    reconciler: buildReconciler({ store: h.store, clock: h.clock }),
    service: new TenancyService(h.store.tenancy, h.clock),
  };
}

const applied = { resource_id: RESOURCE_ID, resource_version: 1, error: '', terminal: false };
const missingEntitlement = {
  resource_id: RESOURCE_ID,
  resource_version: 0,
  error: ENTITLEMENT_ERROR,
  terminal: true,
};

describe('organization shares follow account moves and entitlements', () => {
  let h: Harness;
  let reconciler: Reconciler;
  let service: TenancyService;
  let shareId: string;

  before(async () => {
    ({ h, reconciler, service } = await withReconciler(20));
  });
  after(() => h.close());

  test('POST /shares (organization): given ORG with R1..R3, when reconciled, then every member is associated and holds the resource', async () => {
    const created = await call(h.app, 'POST', base(), { body: orgShareBody() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    shareId = created.body.result.id;

    await reconciler.reconcileOnce();

    const recipients = await recipientsOf(h.app, shareId, { include: true });
    assert.deepEqual([...recipients.keys()].sort(), [R1, R2, R3].sort());
    for (const r of recipients.values()) {
      assert.equal(r.association_status, 'associated', r.account_id);
      assert.deepEqual(r.resources, [applied], r.account_id);
    }
    const held = [`${shareId}/${RESOURCE_ID}@1`];
    assert.deepEqual(await inventoryOf(h, R1, TOKENS.r1), held);
    assert.deepEqual(await inventoryOf(h, R2, TOKENS.r2), held);
    assert.deepEqual(await inventoryOf(h, R3, R3_TOKEN), held);
    assert.deepEqual(await inventoryOf(h, STRANGER, TOKENS.stranger), []);
    assert.deepEqual(await inventoryOf(h, LONER, TOKENS.loner), []);
  });

  test('createAccount: given a new account in ORG, when reconciled, then it gets an associated recipient and the resource', async () => {
    await service.createAccount({ id: NEWCOMER, name: 'Newcomer', organization_id: ORG });
    await addToken(h, 21, NEWCOMER_TOKEN, NEWCOMER);
    assert.equal(
      (await recipientsOf(h.app, shareId, { include: true })).has(NEWCOMER),
      false,
      'derived by the reconciler',
    );

    await reconciler.reconcileOnce();

    const r = (await recipientsOf(h.app, shareId, { include: true })).get(NEWCOMER);
    assert.equal(r?.association_status, 'associated');
    assert.deepEqual(r.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, NEWCOMER, NEWCOMER_TOKEN), [`${shareId}/${RESOURCE_ID}@1`]);
    const seen = await call(h.app, 'GET', `${base(NEWCOMER)}/${shareId}`, { token: NEWCOMER_TOKEN });
    assert.equal(seen.status, 200);
    assert.equal(seen.body.result.kind, 'received');
  });

  test('moveAccount: given R1 moved out of ORG, when reconciled, then its recipient is disassociated, its inventory empty and the share hidden from it', async () => {
    const before = (await recipientsOf(h.app, shareId, { include: true })).get(R1);
    const moved = await service.moveAccount(R1, null);
    assert.equal(moved.change, 'updated');
    assert.equal(moved.row.organization_id, null);
    assert.equal((await h.store.tenancy.getAccount(R1))?.organization_id, null);

    await reconciler.reconcileOnce();

    const recipients = await recipientsOf(h.app, shareId, { include: true });
    const r = recipients.get(R1);
    assert.ok(r && before);
    assert.equal(r.id, before.id);
    assert.equal(r.association_status, 'disassociated');
    assert.deepEqual(r.resources, []);
    assert.deepEqual(await inventoryOf(h, R1, TOKENS.r1), []);
    const hidden = await call(h.app, 'GET', `${base(R1)}/${shareId}`, { token: TOKENS.r1 });
    assertError(hidden, 404, 1404, 'Share not found');
    // The members who stayed are untouched.
    for (const account of [R2, R3, NEWCOMER]) {
      assert.equal(recipients.get(account)?.association_status, 'associated', account);
    }
  });

  test('moveAccount: given R1 moved back into ORG, when reconciled, then the same recipient is associated again and holds the resource', async () => {
    const before = (await recipientsOf(h.app, shareId, { include: true })).get(R1);
    await service.moveAccount(R1, ORG);

    await reconciler.reconcileOnce();

    const recipients = await recipientsOf(h.app, shareId, { include: true });
    assert.equal(recipients.size, 4, 'no second record for R1');
    const r = recipients.get(R1);
    assert.ok(r && before);
    assert.equal(r.id, before.id);
    assert.equal(r.association_status, 'associated');
    assert.deepEqual(r.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, R1, TOKENS.r1), [`${shareId}/${RESOURCE_ID}@1`]);
  });

  test('moveAccount: given R2 moved from ORG to OTHER_ORG, when reconciled, then it leaves the ORG share and joins the OTHER_ORG share', async () => {
    const other = await call(h.app, 'POST', base(STRANGER), {
      token: TOKENS.stranger,
      body: orgShareBody(STRANGER, OTHER_ORG),
    });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    const otherId: string = other.body.result.id;
    await reconciler.reconcileOnce();
    assert.deepEqual(
      [
        ...(
          await recipientsOf(h.app, otherId, { account: STRANGER, token: TOKENS.stranger, include: true })
        ).keys(),
      ],
      [],
    );

    await service.moveAccount(R2, OTHER_ORG);
    await reconciler.reconcileOnce();

    assert.equal(
      (await recipientsOf(h.app, shareId, { include: true })).get(R2)?.association_status,
      'disassociated',
    );
    const joined = await recipientsOf(h.app, otherId, {
      account: STRANGER,
      token: TOKENS.stranger,
      include: true,
    });
    assert.deepEqual([...joined.keys()], [R2]);
    assert.equal(joined.get(R2)?.association_status, 'associated');
    assert.deepEqual(joined.get(R2)?.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, R2, TOKENS.r2), [`${otherId}/${RESOURCE_ID}@1`]);

    // Back home for the tests that follow.
    await service.moveAccount(R2, ORG);
    await reconciler.reconcileOnce();
    assert.equal(
      (await recipientsOf(h.app, shareId, { include: true })).get(R2)?.association_status,
      'associated',
    );
    assert.equal(
      (await recipientsOf(h.app, otherId, { account: STRANGER, token: TOKENS.stranger, include: true })).get(
        R2,
      )?.association_status,
      'disassociated',
    );
    assert.deepEqual(await inventoryOf(h, R2, TOKENS.r2), [`${shareId}/${RESOURCE_ID}@1`]);
  });

  test('setEntitlements: given R3 loses the custom-ruleset entitlement, when reconciled, then it stays associated with a terminal error and holds nothing', async () => {
    const set = await service.setEntitlements(R3, ['gateway-policy']);
    assert.equal(set.change, 'updated');
    assert.deepEqual(set.row.entitlements, ['gateway-policy']);

    await reconciler.reconcileOnce();

    const recipients = await assertMissingEntitlement(h, shareId, R3, R3_TOKEN);
    // Other recipients keep the resource.
    assert.deepEqual(recipients.get(R1)?.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, R1, TOKENS.r1), [`${shareId}/${RESOURCE_ID}@1`]);
  });

  test('reconcileOnce: given a terminal entitlement error and nothing changed, when reconciled again, then it is not retried', async () => {
    const report = await reconciler.reconcileOnce();
    assert.deepEqual(report, { processed: 0, retried: 0, transitions: [] });
    assert.equal(await h.store.reconciler.pendingCount(), 0);
    assert.deepEqual((await recipientsOf(h.app, shareId, { include: true })).get(R3)?.resources, [
      missingEntitlement,
    ]);
  });

  test('setEntitlements: given another list still without custom-ruleset, when reconciled, then the error stays terminal and nothing is applied', async () => {
    await service.setEntitlements(R3, ['gateway-policy', 'idp-federation-grant']);
    await reconciler.reconcileOnce();
    await assertMissingEntitlement(h, shareId, R3, R3_TOKEN);
  });

  test('setEntitlements: given R3 regains the entitlement, when reconciled, then the resource is applied and the error cleared', async () => {
    const set = await service.setEntitlements(R3, ['custom-ruleset', 'gateway-policy']);
    assert.deepEqual(set.row.entitlements, ['custom-ruleset', 'gateway-policy']);

    await reconciler.reconcileOnce();

    const r = (await recipientsOf(h.app, shareId, { include: true })).get(R3);
    assert.equal(r?.association_status, 'associated');
    assert.deepEqual(r.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, R3, R3_TOKEN), [`${shareId}/${RESOURCE_ID}@1`]);
  });

  test('setEntitlements: given null (every type) after a list, when reconciled, then the account keeps the resource', async () => {
    const set = await service.setEntitlements(R3, null);
    assert.equal(set.row.entitlements, null);
    await reconciler.reconcileOnce();
    assert.deepEqual((await recipientsOf(h.app, shareId, { include: true })).get(R3)?.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, R3, R3_TOKEN), [`${shareId}/${RESOURCE_ID}@1`]);
  });

  test('createAccount: given a new ORG account without the entitlement, when reconciled, then its recipient is associated with the terminal error', async () => {
    await service.createAccount({
      id: LATE,
      name: 'Late joiner',
      organization_id: ORG,
      entitlements: ['gateway-policy'],
    });
    await addToken(h, 22, LATE_TOKEN, LATE);

    await reconciler.reconcileOnce();

    await assertMissingEntitlement(h, shareId, LATE, LATE_TOKEN);
  });

  test('applyBootstrap: given a re-applied file moving an account out and changing entitlements, when reconciled, then both take effect', async () => {
    const file = (newcomerOrg: string | null, lateEntitlements: string[] | null) => ({
      accounts: [
        { id: NEWCOMER, name: 'Newcomer', organization_id: newcomerOrg },
        { id: LATE, name: 'Late joiner', organization_id: ORG, entitlements: lateEntitlements },
      ],
    });
    const first = await applyBootstrap(service, file(ORG, ['gateway-policy']), 'test');
    assert.deepEqual(first.accounts, { created: 0, updated: 0, unchanged: 2 });
    assert.equal(await h.store.reconciler.pendingCount(), 0, 'an unchanged file queues nothing');

    const second = await applyBootstrap(service, file(null, null), 'test');
    assert.deepEqual(second.accounts, { created: 0, updated: 2, unchanged: 0 });
    await reconciler.reconcileOnce();

    const recipients = await recipientsOf(h.app, shareId, { include: true });
    assert.equal(recipients.get(NEWCOMER)?.association_status, 'disassociated');
    assert.deepEqual(await inventoryOf(h, NEWCOMER, NEWCOMER_TOKEN), []);
    assert.equal(recipients.get(LATE)?.association_status, 'associated');
    assert.deepEqual(recipients.get(LATE)?.resources, [applied]);
    assert.deepEqual(await inventoryOf(h, LATE, LATE_TOKEN), [`${shareId}/${RESOURCE_ID}@1`]);
  });
});

describe('SqliteTenancyStore.upsertAccount queues reconciler work', () => {
  let h: Harness;

  before(async () => {
    h = await setup();
  });
  after(() => h.close());

  const work = async () =>
    (await h.sql('SELECT kind, id FROM reconcile_work ORDER BY kind, id')) as {
      kind: string;
      id: string;
    }[];
  const drain = () => h.sql('DELETE FROM reconcile_work');
  const account = async (id: string) => {
    const row = await h.store.tenancy.getAccount(id);
    assert.ok(row);
    return row;
  };

  test('upsertAccount: given a name-only change, when upserted, then no work is queued', async () => {
    await drain();
    await h.store.tenancy.upsertAccount({ ...(await account(R1)), name: 'Renamed' });
    assert.deepEqual(await work(), []);
  });

  test('upsertAccount: given an organization change, when upserted, then both organizations are queued', async () => {
    await drain();
    await h.store.tenancy.upsertAccount({ ...(await account(R1)), organization_id: OTHER_ORG });
    assert.deepEqual(await work(), [
      { kind: 'organization', id: ORG },
      { kind: 'organization', id: OTHER_ORG },
    ]);
  });

  test('upsertAccount: given a move out of every organization, when upserted, then only the old one is queued', async () => {
    await drain();
    await h.store.tenancy.upsertAccount({ ...(await account(R1)), organization_id: null });
    assert.deepEqual(await work(), [{ kind: 'organization', id: OTHER_ORG }]);
  });

  test('upsertAccount: given a new account, when created inside or outside an organization, then only the inside one queues its organization', async () => {
    await drain();
    const now = h.clock.timestamp();
    const row = { name: 'n', entitlements: null, created: now, modified: now };
    await h.store.tenancy.upsertAccount({ ...row, id: hexId(30, 'b'), organization_id: null });
    assert.deepEqual(await work(), []);
    await h.store.tenancy.upsertAccount({ ...row, id: hexId(31, 'b'), organization_id: ORG });
    assert.deepEqual(await work(), [{ kind: 'organization', id: ORG }]);
  });

  test('upsertAccount: given an entitlement change, when upserted, then the associated recipients are queued and terminal errors made retryable', async () => {
    const created = await call(h.app, 'POST', base(), {
      body: {
        name: 'to R2 and R3',
        recipients: [{ recipient_account_id: R2 }, { recipient_account_id: R3 }],
        resources: orgShareBody().resources,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const shareId: string = created.body.result.id;
    const removed = await call(
      h.app,
      'DELETE',
      `${base()}/${shareId}/recipients/${(await recipientsOf(h.app, shareId, { include: true })).get(R3)?.id}`,
    );
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const r2 = (await recipientsOf(h.app, shareId, { include: true })).get(R2)?.id;
    const [{ id: resourceRowId }] = (await h.sql(
      'SELECT id FROM share_resources WHERE share_id = ?',
      shareId,
    )) as [{ id: string }];
    await h.sql(
      `INSERT INTO recipient_resources
         (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
       VALUES (?, ?, NULL, ?, TRUE, 1, ?)`,
      r2,
      resourceRowId,
      ENTITLEMENT_ERROR,
      h.clock.timestamp(),
    );
    await drain();

    // Same set in another order: no change.
    await h.store.tenancy.upsertAccount({ ...(await account(R2)), entitlements: null });
    assert.deepEqual(await work(), []);
    await h.store.tenancy.upsertAccount({
      ...(await account(R2)),
      entitlements: ['gateway-policy', 'custom-ruleset'],
    });
    await drain();
    await h.store.tenancy.upsertAccount({
      ...(await account(R2)),
      entitlements: ['custom-ruleset', 'gateway-policy'],
    });
    assert.deepEqual(await work(), []);

    await h.store.tenancy.upsertAccount({ ...(await account(R2)), entitlements: ['custom-ruleset'] });
    assert.deepEqual(await work(), [{ kind: 'recipient', id: r2 }]);
    assert.deepEqual(
      await h.sql(
        `SELECT error, CASE WHEN terminal THEN 1 ELSE 0 END AS terminal, error_version
         FROM recipient_resources WHERE recipient_id = ?`,
        r2,
      ),
      [{ error: ENTITLEMENT_ERROR, terminal: 1, error_version: null }],
    );

    // R3's recipient was removed, so only the removal is left to do: nothing to queue for it.
    await drain();
    await h.store.tenancy.upsertAccount({ ...(await account(R3)), entitlements: [] });
    assert.deepEqual(await work(), []);
  });
});

describe('an owner that leaves its organization', () => {
  let h: Harness;
  let reconciler: Reconciler;
  let service: TenancyService;
  let accountShare: string;
  let orgShare: string;
  let otherShare: string;

  before(async () => {
    ({ h, reconciler, service } = await withReconciler(22));
    const byAccount = await call(h.app, 'POST', base(), {
      body: {
        ...orgShareBody(),
        name: 'To R1 and R2',
        recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
      },
    });
    accountShare = byAccount.body.result.id as string;
    orgShare = (await call(h.app, 'POST', base(), { body: orgShareBody() })).body.result.id as string;
    // R3 shares too; its share must not be touched by OWNER's departure.
    const fromR3 = await call(h.app, 'POST', base(R3), {
      token: R3_TOKEN,
      body: { ...orgShareBody(R3), name: 'From R3', recipients: [{ recipient_account_id: R1 }] },
    });
    otherShare = fromR3.body.result.id as string;
    await reconciler.reconcileOnce();
    assert.deepEqual(
      (await inventoryOf(h, R1, TOKENS.r1)).sort(),
      [
        `${accountShare}/${RESOURCE_ID}@1`,
        `${orgShare}/${RESOURCE_ID}@1`,
        `${otherShare}/${RESOURCE_ID}@1`,
      ].sort(),
    );
  });
  after(() => h.close());

  test('moveAccount: given the owner moved out of ORG, when reconciled, then its shares are deleted, every recipient disassociated and what it shared removed from every account', async () => {
    await service.moveAccount(OWNER, OTHER_ORG);
    await reconciler.reconcileOnce();
    await reconciler.reconcileOnce();

    for (const id of [accountShare, orgShare]) {
      const share = await call(h.app, 'GET', `${base()}/${id}?include_recipient_counts=true`);
      assert.equal(share.status, 200, JSON.stringify(share.body));
      assert.equal(share.body.result.status, 'deleted');
      assert.equal(share.body.result.associated_recipient_count, 0);
      assert.equal(share.body.result.associating_recipient_count, 0);
      for (const r of nonEmpty((await recipientsOf(h.app, id, { include: true })).values(), 'recipients')) {
        assert.equal(r.association_status, 'disassociated', r.account_id);
      }
    }
    assert.deepEqual(await inventoryOf(h, R1, TOKENS.r1), [`${otherShare}/${RESOURCE_ID}@1`]);
    assert.deepEqual(await inventoryOf(h, R2, TOKENS.r2), []);
    assert.deepEqual(await inventoryOf(h, R3, R3_TOKEN), []);
    const untouched = await call(h.app, 'GET', `${base(R3)}/${otherShare}`, { token: R3_TOKEN });
    assert.equal(untouched.body.result.status, 'active');
  });

  test('audit log: given the departure deleted the shares, when the owner reads its log, then a system entry on each share says why', async () => {
    const res = await call(
      h.app,
      'GET',
      `/client/v4/accounts/${OWNER}/logs/audit?since=2025-01-01&before=2027-01-01&action_type=delete&resource_type=share`,
    );
    const why = (
      res.body.result as {
        resource: { id: string };
        action: { description: string };
        actor: { type: string };
      }[]
    ).filter((e) => e.action.description === OWNER_LEFT);
    assert.deepEqual(why.map((e) => e.resource.id).sort(), [accountShare, orgShare].sort());
    for (const e of why) assert.equal(e.actor.type, 'system');
  });

  test('moveAccount: given the owner moved back, when reconciled, then its deleted shares stay deleted', async () => {
    await service.moveAccount(OWNER, ORG);
    await reconciler.reconcileOnce();
    const share = await call(h.app, 'GET', `${base()}/${accountShare}`);
    assert.equal(share.body.result.status, 'deleted');
    assert.deepEqual(await inventoryOf(h, R2, TOKENS.r2), []);
  });
});

describe('TenancyService.moveAccount and setEntitlements refuse bad input', () => {
  let h: Harness;
  let service: TenancyService;

  before(async () => {
    h = await setup();
    service = new TenancyService(h.store.tenancy, h.clock);
    await h.sql('DELETE FROM reconcile_work');
  });
  after(() => h.close());

  const unchangedAfter = async () => {
    const r1 = await h.store.tenancy.getAccount(R1);
    assert.equal(r1?.organization_id, ORG);
    assert.equal(r1.entitlements, null);
    assert.equal(await h.store.reconciler.pendingCount(), 0);
  };

  const refusals: [string, () => Promise<unknown>, string][] = [
    [
      'moveAccount, an unknown account',
      () => service.moveAccount(hexId(99, 'b'), null),
      `unknown account ${hexId(99, 'b')}`,
    ],
    [
      'moveAccount, a malformed account id',
      () => service.moveAccount('nope', ORG),
      'invalid account: id: not a valid id (32 lowercase hex characters): "nope"',
    ],
    [
      'moveAccount, an unknown organization',
      () => service.moveAccount(R1, hexId(99, 'a')),
      `invalid account: organization_id: unknown organization ${hexId(99, 'a')}`,
    ],
    [
      'setEntitlements, an unknown resource type',
      () => service.setEntitlements(R1, ['custom-ruleset', 'dns-record']),
      'invalid account: entitlements[1]: unknown resource type "dns-record" (expected one of custom-ruleset, gateway-policy, gateway-destination-ip, gateway-block-page-settings, gateway-extended-email-matching, idp-federation-grant, trust-grant)',
    ],
    [
      'setEntitlements, an unknown account',
      () => service.setEntitlements(hexId(99, 'b'), null),
      `unknown account ${hexId(99, 'b')}`,
    ],
  ];
  for (const [given, run, message] of refusals) {
    test(`${given.split(',')[0]}: given ${given.split(', ')[1]}, when called, then it fails with "${message.slice(0, 40)}…" and changes nothing`, async () => {
      await assert.rejects(run, (err: Error) => {
        assert.equal(err.message, message);
        return true;
      });
      await unchangedAfter();
    });
  }

  test('moveAccount/setEntitlements: given the current values, when called, then they report unchanged and queue nothing', async () => {
    const before = await h.store.tenancy.getAccount(R1);
    assert.deepEqual(await service.moveAccount(R1, ORG), { row: before, change: 'unchanged' });
    assert.deepEqual(await service.setEntitlements(R1, null), { row: before, change: 'unchanged' });
    await unchangedAfter();
  });

  test('setEntitlements: given duplicates, when set, then they are stored once and modified moves', async () => {
    const before = await h.store.tenancy.getAccount(R1);
    h.clock.advance(1000);
    const { row, change } = await service.setEntitlements(R1, ['gateway-policy', 'gateway-policy']);
    assert.equal(change, 'updated');
    assert.deepEqual(row, { ...before, entitlements: ['gateway-policy'], modified: row.modified });
    assert.ok(row.modified > (before?.modified ?? ''));
    assert.deepEqual(await h.store.tenancy.getAccount(R1), row);
  });
});

describe('rshare account move / entitlements (CLI)', () => {
  const ROOT = fileURLToPath(new URL('..', import.meta.url));
  const CLI = join(ROOT, 'src', 'cli.ts');
  let dir: string;
  let database: string;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args, '--database', database], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  const json = <T>(...args: string[]): T =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', CLI, ...args, '--database', database, '--json'], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    ) as T;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rshare-moves-cli-'));
    database = join(dir, 'rshare.db');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('account move: given --org and then --no-org, when run with --json, then the account moves each time and is listed without one', () => {
    const org = json<{ id: string }>('org', 'create', '--name', 'Acme').id;
    const acct = json<{ id: string }>('account', 'create', '--name', 'Prod').id;
    const moved = json<{ id: string; organization_id: string | null }>(
      'account',
      'move',
      '--id',
      acct,
      '--org',
      org,
    );
    assert.deepEqual([moved.id, moved.organization_id], [acct, org]);
    const out = run('account', 'move', '--id', acct, '--no-org');
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, `Moved account ${acct} out of its organization\n`);
    const listed = json<{ id: string; organization_id: string | null }[]>('account', 'list');
    assert.deepEqual(
      listed.map((a) => [a.id, a.organization_id]),
      [[acct, null]],
    );
  });

  test('account move: given neither --org nor --no-org, when run, then it exits 1 with a usage message', () => {
    const acct = json<{ id: string }>('account', 'create', '--name', 'Other').id;
    const out = run('account', 'move', '--id', acct);
    assert.equal(out.status, 1);
    assert.equal(out.stderr, 'rshare: account move: pass --org <id> or --no-org\n');
  });

  test('account entitlements: given --set and then --all, when run, then the list is stored and cleared', () => {
    const acct = json<{ id: string }>('account', 'create', '--name', 'Ent').id;
    const set = json<{ entitlements: string[] | null }>(
      'account',
      'entitlements',
      '--id',
      acct,
      '--set',
      'custom-ruleset,gateway-policy',
    );
    assert.deepEqual(set.entitlements, ['custom-ruleset', 'gateway-policy']);
    const out = run('account', 'entitlements', '--id', acct, '--all');
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, `Set account ${acct} entitlements to all\n`);
    const both = run('account', 'entitlements', '--id', acct, '--all', '--set', 'custom-ruleset');
    assert.equal(both.status, 1);
    assert.equal(both.stderr, 'rshare: account entitlements: pass exactly one of --set <types> or --all\n');
    const unknown = run('account', 'entitlements', '--id', hexId(1, 'f'), '--all');
    assert.equal(unknown.status, 1);
    assert.equal(unknown.stderr, `rshare: unknown account ${hexId(1, 'f')}\n`);
  });
});
