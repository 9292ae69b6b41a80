import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { buildApp } from '../src/app.js';
import { controlRoutes } from '../src/emulator/control/routes.js';
import { ControlService } from '../src/emulator/control/service.js';
import type { App } from '../src/http/types.js';
import { ControlledClock } from '../src/lib/clock.js';
import type { DeliveryOutcome, DriverRegistry } from '../src/engine/reconciler/drivers/types.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import { delayedWork } from '../src/engine/reconciler/timing.js';
import { assertError, base, call, hexId, OWNER, R1, R2, R3, setup, type Harness } from './helpers.js';
import { buildReconciler, type TestReconcilerOptions } from './support/reconciler.js';
import { assertSuccess } from './support/assert.js';
import { accountShare, addToken, admin, statuses } from './support/shares.js';

const ADMIN = 'admin-token-for-control-tests';
const RESOURCE_ID = '023e105f4ecef8ad9ca31a8372d0c353';

interface Control {
  h: Harness;
  app: App;
  clock: ControlledClock;
  reconciler: Reconciler;
}

let current: Control | undefined;
afterEach(async () => {
  if (!current) return;
  await current.reconciler.stop();
  await current.app.close();
  await current.h.close();
  current = undefined;
});

/**
 * The fixture accounts and tokens on a ControlledClock, an app with the control routes mounted behind the
 * admin token, and a reconciler that is not started (manual mode) unless a test starts it. The queue
 * setup() leaves (organization work of the new accounts) is drained first.
 */
async function start(
  options: { delayMs?: number; drivers?: DriverRegistry; reconciler?: Partial<TestReconcilerOptions> } = {},
): Promise<Control> {
  const clock = new ControlledClock();
  const h = await setup({ clock, store: { timing: delayedWork(clock, options.delayMs ?? 0) } });
  const reconciler = buildReconciler({
    store: h.store,
    clock,
    drivers: options.drivers,
    ...options.reconciler,
  });
  const control = new ControlService(h.store, reconciler, clock);
  const app = await buildApp({
    store: h.store,
    clock,
    onChange: () => reconciler.notify(),
    admin: { token: ADMIN, routes: (a) => controlRoutes(a, control) },
  });
  current = { h, app, clock, reconciler };
  await reconciler.reconcileNow();
  assert.equal(await h.store.reconciler.pendingCount(), 0);
  return current;
}

/** A driver registry whose every delivery gets the outcome `next()` gives. */
function scripted(next: () => DeliveryOutcome): DriverRegistry {
  const driver = { name: 'scripted', deliver: async () => next() };
  return { for: () => driver };
}

describe('POST /_rshare/reconcile', () => {
  test('given manual mode (no loop running), when time passes, then recipients stay associating until a reconcile moves them', async () => {
    const c = await start();
    const share = await accountShare(c.app);
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associating' });
    await admin(c.app, ADMIN, 'POST', '/clock', { advance_ms: 3_600_000 });
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associating' });

    const res = await admin(c.app, ADMIN, 'POST', '/reconcile');
    assertSuccess(res);
    assert.deepEqual(res.body.result, { processed: 1, pending: 0 });
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associated' });
  });

  test('given two shares, when reconciling one by share_id, then only that share moves and pending counts its items', async () => {
    const c = await start();
    const first = await accountShare(c.app, [R1]);
    const second = await accountShare(c.app, [R2]);

    const res = await admin(c.app, ADMIN, 'POST', '/reconcile', { share_id: first });
    assertSuccess(res);
    assert.deepEqual(res.body.result, { processed: 1, pending: 0 });
    assert.deepEqual(await statuses(c.app, first), { [R1]: 'associated' });
    assert.deepEqual(await statuses(c.app, second), { [R2]: 'associating' });
    assert.equal(await c.h.store.reconciler.pendingCount(), 1);

    const rest = await admin(c.app, ADMIN, 'POST', '/reconcile', {});
    assert.deepEqual(rest.body.result, { processed: 1, pending: 0 });
    assert.deepEqual(await statuses(c.app, second), { [R2]: 'associated' });
  });

  test('given three recipients, when reconciling with max_steps 2, then two items are processed and one stays pending', async () => {
    const c = await start();
    const share = await accountShare(c.app, [R1, R2, R3]);

    const res = await admin(c.app, ADMIN, 'POST', '/reconcile', { share_id: share, max_steps: 2 });
    assertSuccess(res);
    assert.deepEqual(res.body.result, { processed: 2, pending: 1 });
    const moved = Object.values(await statuses(c.app, share)).sort();
    assert.deepEqual(moved, ['associated', 'associated', 'associating']);

    const rest = await admin(c.app, ADMIN, 'POST', '/reconcile', { max_steps: 1 });
    assert.deepEqual(rest.body.result, { processed: 1, pending: 0 });
  });

  test('given work delayed and an empty JSON body, when reconciling, then the delay is ignored', async () => {
    const c = await start({ delayMs: 120_000 });
    await admin(c.app, ADMIN, 'POST', '/clock', { freeze: true });
    const share = await accountShare(c.app);
    const res = await call(c.app, 'POST', '/_rshare/reconcile', {
      token: ADMIN,
      headers: { 'content-type': 'application/json' },
    });
    assertSuccess(res);
    assert.deepEqual(res.body.result, { processed: 1, pending: 0 });
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associated' });
  });

  test('given a delivery that keeps failing retryably, when reconciling, then it is retried three times and left queued with its error', async () => {
    const c = await start({
      drivers: scripted(() => ({ ok: false, terminal: false, error: 'receiver unavailable' })),
    });
    const share = await accountShare(c.app);

    const res = await admin(c.app, ADMIN, 'POST', '/reconcile', { share_id: share });
    assertSuccess(res);
    assert.deepEqual(res.body.result, { processed: 4, pending: 1 });
    const recipients = await call(c.app, 'GET', `${base()}/${share}/recipients?include_resources=true`);
    assert.equal(recipients.body.result[0].association_status, 'associating');
    assert.deepEqual(recipients.body.result[0].resources, [
      // Nothing applied yet: version 0.
      { resource_id: RESOURCE_ID, resource_version: 0, error: 'receiver unavailable', terminal: false },
    ]);
  });

  test('given an unknown share id, when reconciling it, then 404 code 1404', async () => {
    const c = await start();
    assertError(
      await admin(c.app, ADMIN, 'POST', '/reconcile', { share_id: hexId(99, 'e') }),
      404,
      1404,
      'Share not found',
    );
  });

  test('given malformed bodies, when reconciling, then 400 code 1400 pointing at the field', async () => {
    const c = await start();
    const cases: [unknown, string, string][] = [
      [{ max_steps: 0 }, 'max_steps must be at least 1', '/max_steps'],
      [{ max_steps: 1.5 }, 'max_steps must be an integer', '/max_steps'],
      [{ share_id: 'x'.repeat(33) }, 'share_id must be at most 32 characters', '/share_id'],
      [{ share_id: 7 }, 'share_id must be a string', '/share_id'],
      [[1], 'body must be an object', ''],
    ];
    for (const [body, message, pointer] of cases) {
      assertError(await admin(c.app, ADMIN, 'POST', '/reconcile', body), 400, 1400, message, pointer);
    }
  });

  test('given no admin token, when reconciling, then 403 code 10000', async () => {
    const c = await start();
    assertError(await call(c.app, 'POST', '/_rshare/reconcile'), 403, 10000, 'Authentication error');
  });
});

describe('POST /_rshare/wait', () => {
  test('given a share still associating, when waiting while the loop runs, then it answers once settled with the recipients and their resources', async () => {
    const c = await start();
    const share = await accountShare(c.app, [R1, R2]);
    const waiting = admin(c.app, ADMIN, 'POST', '/wait', { share_id: share, timeout_ms: 30_000 });
    c.reconciler.start(10);

    const res = await waiting;
    assertSuccess(res);
    const { share_id, status, recipients } = res.body.result;
    assert.equal(share_id, share);
    assert.equal(status, 'active');
    assert.deepEqual(
      (recipients as { account_id: string }[]).map((r) => r.account_id).sort(),
      [R1, R2].sort(),
    );
    for (const r of recipients) {
      assert.equal(r.association_status, 'associated');
      assert.deepEqual(r.resources, [
        { resource_id: RESOURCE_ID, resource_version: 1, error: '', terminal: false },
      ]);
    }
    // The same wire objects as the public recipient list.
    const listed = await call(c.app, 'GET', `${base()}/${share}/recipients?include_resources=true`);
    assert.deepEqual(
      [...recipients].sort((a, b) => a.id.localeCompare(b.id)),
      [...listed.body.result].sort((a, b) => a.id.localeCompare(b.id)),
    );
  });

  test('given a delivery that failed for good, when waiting, then the share counts as settled and the error is shown', async () => {
    const c = await start({ drivers: scripted(() => ({ ok: false, terminal: true, error: 'refused' })) });
    const share = await accountShare(c.app);
    await admin(c.app, ADMIN, 'POST', '/reconcile');

    const res = await admin(c.app, ADMIN, 'POST', '/wait', { share_id: share, timeout_ms: 0 });
    assertSuccess(res);
    assert.deepEqual(res.body.result.recipients[0].resources, [
      { resource_id: RESOURCE_ID, resource_version: 0, error: 'refused', terminal: true },
    ]);
  });

  test('given manual mode and no reconcile, when waiting, then 408 code 1408 in the envelope once the time runs out', async () => {
    const c = await start();
    const share = await accountShare(c.app);
    for (const timeout_ms of [0, 50]) {
      const res = await admin(c.app, ADMIN, 'POST', '/wait', { share_id: share, timeout_ms });
      assertError(res, 408, 1408, `Share ${share} did not settle within ${timeout_ms} ms`);
    }
  });

  test('given a retryable failure, when waiting, then the share has not settled (its work stays queued)', async () => {
    const c = await start({
      drivers: scripted(() => ({ ok: false, terminal: false, error: 'receiver unavailable' })),
    });
    const share = await accountShare(c.app);
    await admin(c.app, ADMIN, 'POST', '/reconcile');
    const res = await admin(c.app, ADMIN, 'POST', '/wait', { share_id: share, timeout_ms: 20 });
    assertError(res, 408, 1408, `Share ${share} did not settle within 20 ms`);
  });

  test('given bad requests, when waiting, then 404 for an unknown share and 400 pointing at the field otherwise', async () => {
    const c = await start();
    assertError(
      await admin(c.app, ADMIN, 'POST', '/wait', { share_id: hexId(99, 'e') }),
      404,
      1404,
      'Share not found',
    );
    const cases: [unknown, string, string][] = [
      [{}, 'share_id is required', '/share_id'],
      [{ share_id: hexId(1, 'e'), timeout_ms: 600_001 }, 'timeout_ms must be at most 600000', '/timeout_ms'],
      [{ share_id: hexId(1, 'e'), timeout_ms: -1 }, 'timeout_ms must be at least 0', '/timeout_ms'],
    ];
    for (const [body, message, pointer] of cases) {
      assertError(await admin(c.app, ADMIN, 'POST', '/wait', body), 400, 1400, message, pointer);
    }
  });
});

describe('/_rshare/clock', () => {
  test('given a frozen clock, when writing, then timestamps stay in the frozen millisecond and their microsecond digits count the writes', async () => {
    const c = await start();
    const frozen = await admin(c.app, ADMIN, 'POST', '/clock', { freeze: true });
    assertSuccess(frozen);
    assert.equal(frozen.body.result.frozen, true);
    const again = await admin(c.app, ADMIN, 'GET', '/clock');
    assert.deepEqual(again.body.result, { ...frozen.body.result, offset_ms: again.body.result.offset_ms });
    const ms = (frozen.body.result.now as string).slice(0, 23);

    const a = await call(c.app, 'GET', `${base()}/${await accountShare(c.app)}`);
    const b = await call(c.app, 'GET', `${base()}/${await accountShare(c.app)}`);
    for (const share of [a.body.result, b.body.result]) {
      assert.equal(share.created.slice(0, 23), ms);
      assert.equal(share.modified, share.created);
    }
    // Same millisecond, yet ordered: the last three digits are a write counter within it.
    assert.ok(a.body.result.created < b.body.result.created);
  });

  test('given a frozen clock, when advancing, setting and resuming, then the clock reports each state', async () => {
    const c = await start();
    const frozen = (await admin(c.app, ADMIN, 'POST', '/clock', { freeze: true })).body.result;
    const advanced = await admin(c.app, ADMIN, 'POST', '/clock', { advance_ms: 1500 });
    assertSuccess(advanced);
    assert.equal(Date.parse(advanced.body.result.now) - Date.parse(frozen.now), 1500);
    assert.equal(advanced.body.result.frozen, true);

    const set = await admin(c.app, ADMIN, 'POST', '/clock', { set: '2030-01-01T00:00:00Z' });
    assert.equal(set.body.result.now, '2030-01-01T00:00:00.000000Z');
    assert.equal(set.body.result.frozen, true);
    assert.ok(set.body.result.offset_ms > 0);

    const resumed = await admin(c.app, ADMIN, 'POST', '/clock', { freeze: false });
    assert.equal(resumed.body.result.frozen, false);
    assert.ok(resumed.body.result.now >= '2030-01-01T00:00:00.000000Z');
  });

  test('given a token expiring in an hour, when the clock advances past its expires_on, then the token is refused', async () => {
    const c = await start();
    await admin(c.app, ADMIN, 'POST', '/clock', { freeze: true });
    const secret = 'short-lived-token-secret-0010';
    // A whole second: PostgreSQL keeps expires_on to the second.
    const expires = Math.ceil(c.clock.now() / 1000) * 1000 + 3_600_000;
    await addToken(c.h, 10, secret, OWNER, {
      name: 'short-lived',
      can_edit: false,
      expires_on: new Date(expires).toISOString(),
      created: c.clock.timestamp(),
    });
    await admin(c.app, ADMIN, 'POST', '/clock', { advance_ms: expires - 1 - c.clock.now() });
    assert.equal((await call(c.app, 'GET', base(), { token: secret })).status, 200);
    await admin(c.app, ADMIN, 'POST', '/clock', { advance_ms: 1 });
    assertError(await call(c.app, 'GET', base(), { token: secret }), 400, 1000, 'Invalid API Token');
  });

  test('given malformed bodies, when setting the clock, then 400 code 1400 pointing at the field', async () => {
    const c = await start();
    const cases: [unknown, string, string][] = [
      [{}, 'Give exactly one of freeze, advance_ms or set', ''],
      [
        { freeze: true, set: '2030-01-01T00:00:00Z' },
        'Give exactly one of freeze, advance_ms or set',
        '/set',
      ],
      [{ advance_ms: 5, freeze: false }, 'Give exactly one of freeze, advance_ms or set', '/advance_ms'],
      [{ advance_ms: -1 }, 'advance_ms must be at least 0', '/advance_ms'],
      [{ advance_ms: 1e300 }, 'advance_ms would move the clock past the year 9999', '/advance_ms'],
      [{ freeze: 'yes' }, 'freeze must be a boolean', '/freeze'],
      [{ set: 'tomorrow' }, 'set must match format "date-time"', '/set'],
      [{ set: '1969-12-31T23:59:59Z' }, 'set must be between 1970-01-01 and 9999-12-31', '/set'],
    ];
    for (const [body, message, pointer] of cases) {
      assertError(await admin(c.app, ADMIN, 'POST', '/clock', body), 400, 1400, message, pointer);
    }
    assert.equal((await admin(c.app, ADMIN, 'GET', '/clock')).body.result.frozen, false);
  });
});

describe('reconcile timing on the controlled clock', () => {
  test('given a 120 s reconcile delay and a frozen clock, when the clock advances, then work runs only once due', async () => {
    const c = await start({ delayMs: 120_000 });
    c.clock.freeze();
    const share = await accountShare(c.app);

    assert.equal((await c.reconciler.reconcileOnce()).processed, 0);
    c.clock.advance(119_999);
    assert.equal((await c.reconciler.reconcileOnce()).processed, 0);
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associating' });
    c.clock.advance(1);
    assert.equal((await c.reconciler.reconcileOnce()).processed, 1);
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associated' });
  });

  test('given the loop running with a 120 s delay, when advance_ms 120000 is posted, then the share settles', async () => {
    const c = await start({ delayMs: 120_000 });
    await admin(c.app, ADMIN, 'POST', '/clock', { freeze: true });
    c.reconciler.start(10);
    const share = await accountShare(c.app);
    assertError(
      await admin(c.app, ADMIN, 'POST', '/wait', { share_id: share, timeout_ms: 100 }),
      408,
      1408,
      `Share ${share} did not settle within 100 ms`,
    );

    assertSuccess(await admin(c.app, ADMIN, 'POST', '/clock', { advance_ms: 120_000 }));
    const res = await admin(c.app, ADMIN, 'POST', '/wait', { share_id: share, timeout_ms: 30_000 });
    assertSuccess(res);
    assert.equal(res.body.result.recipients[0].association_status, 'associated');
  });

  test('given a retryable failure on a frozen clock, when the clock passes the backoff, then the retry runs', async () => {
    let calls = 0;
    const c = await start({
      drivers: scripted(() =>
        ++calls === 1 ? { ok: false, terminal: false, error: 'receiver unavailable' } : { ok: true },
      ),
      // Backoff of the first retry: 1000 ms (half fixed, half jitter, the jitter at its maximum).
      reconciler: { backoffBaseMs: 1000, random: () => 1 },
    });
    c.clock.freeze();
    const share = await accountShare(c.app);

    assert.equal((await c.reconciler.reconcileOnce()).retried, 1);
    c.clock.advance(999);
    assert.equal((await c.reconciler.reconcileOnce()).processed, 0);
    c.clock.advance(1);
    const report = await c.reconciler.reconcileOnce();
    assert.deepEqual([report.processed, report.retried], [1, 0]);
    assert.deepEqual(await statuses(c.app, share), { [R1]: 'associated' });
  });
});
