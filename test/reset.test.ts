import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { adminRoutes } from '../src/emulator/admin/routes.js';
import { AdminService } from '../src/emulator/admin/service.js';
import { buildApp } from '../src/app.js';
import { ControlService } from '../src/emulator/control/service.js';
import { FaultRegistry } from '../src/emulator/faults/service.js';
import { withDeliveryFaults } from '../src/emulator/faults/deliveries.js';
import type { App } from '../src/http/types.js';
import { Journal } from '../src/emulator/journal/service.js';
import { ControlledClock } from '../src/lib/clock.js';
import { seededIds } from '../src/lib/ids.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import { StateService } from '../src/emulator/state/service.js';
import {
  assertError,
  base,
  call,
  hexId,
  ORG,
  OTHER_ORG,
  OWNER,
  R1,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  type Harness,
} from './helpers.js';
import { buildReconciler, testDrivers } from './support/reconciler.js';
import { admin, createShare as postShare } from './support/shares.js';

const ADMIN = 'reset-test-admin-token-0001';

describe('POST /_rshare/reset', () => {
  let h: Harness;
  let app: App;
  let clock: ControlledClock;
  let faults: FaultRegistry;
  let journal: Journal;
  let reconciler: Reconciler;

  const createShare = async (account = OWNER, recipient = R1, token: string = TOKENS.owner) => {
    const body = seedShareBody(recipient);
    body.resources = body.resources.map((r) => ({ ...r, resource_account_id: account }));
    return (await postShare(app, body, { account, token })).id;
  };

  before(async () => {
    clock = new ControlledClock();
    h = await setup({ clock });
    // The stranger's organization gets a token of its own, so both organizations can share.
    faults = new FaultRegistry();
    journal = new Journal({ clock });
    const ids = seededIds(5);
    reconciler = buildReconciler({
      store: h.store,
      clock,
      ids,
      drivers: withDeliveryFaults(testDrivers(h), faults),
    });
    const state = new StateService(h.store.state, (change) => reconciler.whilePaused(change));
    const services = {
      state,
      faults,
      journal,
      control: new ControlService(h.store, reconciler, clock),
      admin: new AdminService({ state, faults, journal, clock, ids, baseline: await state.exportTenancy() }),
    };
    app = await buildApp({
      store: h.store,
      clock,
      ids,
      faults,
      journal,
      admin: { token: ADMIN, routes: (a) => adminRoutes(a, services) },
    });
  });
  after(async () => {
    await reconciler.stop();
    await app.close();
    await h.close();
  });
  beforeEach(async () => {
    const res = await admin(app, ADMIN, 'POST', '/reset');
    assert.equal(res.status, 200);
  });

  it('given shares, faults, a journal and a moved clock, when the store is reset, then all are gone and the tenancy is as at start', async () => {
    const id = await createShare();
    await admin(app, ADMIN, 'POST', '/reconcile');
    await admin(app, ADMIN, 'POST', '/faults', { method: 'GET', path: '/nothing', status: 503 });
    await admin(app, ADMIN, 'POST', '/clock', { freeze: true });
    await admin(app, ADMIN, 'POST', '/clock', { advance_ms: 3_600_000 });

    const res = await admin(app, ADMIN, 'POST', '/reset');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.result, { scope: 'store' });

    assertError(await call(app, 'GET', `${base()}/${id}`), 404, 1404, 'Share not found');
    const list = await call(app, 'GET', base());
    assert.deepEqual(list.body.result, []);
    assert.deepEqual((await admin(app, ADMIN, 'GET', '/faults')).body.result, []);
    const requests = (await admin(app, ADMIN, 'GET', '/requests')).body.result as {
      method: string;
      path: string;
    }[];
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.path}`),
      [`GET /client/v4/accounts/${OWNER}/shares`, `GET /client/v4/accounts/${OWNER}/shares/${id}`],
    );
    const time = (await admin(app, ADMIN, 'GET', '/clock')).body.result;
    assert.equal(time.frozen, false);
    assert.ok(Math.abs(time.offset_ms) < 60_000, `offset ${time.offset_ms}`);
    const state = (await admin(app, ADMIN, 'GET', '/state')).body.result;
    for (const table of ['shares', 'recipients', 'resources', 'deliveries', 'inventory', 'work'])
      assert.deepEqual(state[table], [], table);
    assert.equal(state.accounts.length, 6);
    assert.equal(state.tokens.length, 9);
  });

  it('given a seeded id sequence, when the store is reset, then the same calls issue the same ids again', async () => {
    const first = await createShare();
    await admin(app, ADMIN, 'POST', '/reset');
    assert.equal(await createShare(), first);
  });

  it('given shares in two organizations, when one organization is reset, then only its shares go', async () => {
    // The stranger's organization gets a second account so the stranger can share within it.
    const peer = hexId(0x77, 'b');
    const doc = (await admin(app, ADMIN, 'GET', '/state')).body.result;
    const now = clock.timestamp();
    doc.accounts.push({
      id: peer,
      name: 'Other peer',
      organization_id: OTHER_ORG,
      entitlements: null,
      created: now,
      modified: now,
    });
    doc.accounts.sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id));
    assert.equal((await admin(app, ADMIN, 'POST', '/reset')).status, 200);
    const put = await call(app, 'PUT', '/_rshare/state', { token: ADMIN, body: doc });
    assert.equal(put.status, 200, JSON.stringify(put.body));

    const mine = await createShare();
    const theirs = await createShare(STRANGER, peer, TOKENS.stranger);
    await admin(app, ADMIN, 'POST', '/reconcile');

    const res = await admin(app, ADMIN, 'POST', '/reset', { organization_id: ORG });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.result, { scope: 'organization', organization_id: ORG, shares_removed: 1 });
    assertError(await call(app, 'GET', `${base()}/${mine}`), 404, 1404, 'Share not found');
    const kept = await call(app, 'GET', `${base(STRANGER)}/${theirs}`, { token: TOKENS.stranger });
    assert.equal(kept.status, 200);
    const recipients = await call(app, 'GET', `${base(STRANGER)}/${theirs}/recipients`, {
      token: TOKENS.stranger,
    });
    assert.deepEqual(
      recipients.body.result.map((r: { association_status: string }) => r.association_status),
      ['associated'],
    );
    // The organization itself keeps working: a new share is listed, numbered from one.
    await createShare();
    const list = await call(app, 'GET', `/client/v4/organizations/${ORG}/shares`, { token: TOKENS.org });
    assert.equal(list.body.result_info.total_count, 1);
  });

  it('given an unknown or malformed organization id, when reset, then it fails and nothing is removed', async () => {
    const id = await createShare();
    assertError(
      await admin(app, ADMIN, 'POST', '/reset', { organization_id: hexId(0xdead, 'a') }),
      404,
      1404,
      'Organization not found',
    );
    assertError(
      await admin(app, ADMIN, 'POST', '/reset', { organization_id: 'nope' }),
      400,
      1400,
      'organization_id must be 32 lowercase hex characters',
      '/organization_id',
    );
    assertError(
      await admin(app, ADMIN, 'POST', '/reset', { organisation_id: ORG }),
      400,
      1400,
      'Unknown field organisation_id',
      '/organisation_id',
    );
    assert.equal((await call(app, 'GET', `${base()}/${id}`)).status, 200);
  });
});
