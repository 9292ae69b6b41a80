import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Cloudflare from 'cloudflare';
import { withDeliveryFaults } from '../src/emulator/faults/deliveries.js';
import { compileGlob } from '../src/emulator/faults/paths.js';
import { faultRoutes } from '../src/emulator/faults/routes.js';
import { FaultRegistry } from '../src/emulator/faults/service.js';
import type { AppOptions } from '../src/app.js';
import { journalRoutes } from '../src/emulator/journal/routes.js';
import { Journal } from '../src/emulator/journal/service.js';
import type { ResourceType } from '../src/http/common-schemas.js';
import { ManualClock } from '../src/lib/clock.js';
import type { Delivery, DeliveryDriver, DeliveryOutcome } from '../src/engine/reconciler/drivers/types.js';
import type { Reconciler } from '../src/engine/reconciler/reconciler.js';
import type { ResourceRow } from '../src/cloudflare/resources/store.js';
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
  type Harness,
} from './helpers.js';
import { buildReconciler, testDrivers } from './support/reconciler.js';
import { assertNoRoute, assertSuccess } from './support/assert.js';
import { accountShare, admin, recipientList } from './support/shares.js';

const ADMIN = 'admin-token-for-fault-tests-01';
const FAULT_NOT_FOUND = 'Fault rule not found';

interface Controls {
  clock: ManualClock;
  faults: FaultRegistry;
  journal: Journal;
  /** buildApp options mounting the fault and journal routes under /_rshare. */
  app: Omit<AppOptions, 'store' | 'clock'>;
}

function controls(random?: () => number): Controls {
  const clock = new ManualClock();
  const faults = new FaultRegistry(random ? { random } : {});
  const journal = new Journal({ clock });
  return {
    clock,
    faults,
    journal,
    app: {
      faults,
      journal,
      admin: {
        token: ADMIN,
        routes: (a) => {
          faultRoutes(a, faults);
          journalRoutes(a, journal);
        },
      },
    },
  };
}

/** The harness and controls of the running test, in the blocks that call `freshPerTest()`. */
let h: Harness;
let c: Controls;

/** Fresh controls, and a harness on them, for each test of the calling block (hooks run in order). */
function freshPerTest(): void {
  beforeEach(async () => {
    c = controls();
    h = await setup({ clock: c.clock, app: c.app });
  });
  afterEach(() => h.close());
}

async function addRule(h: Harness, body: unknown): Promise<{ id: string } & Record<string, unknown>> {
  const res = await admin(h.app, ADMIN, 'POST', '/faults', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.result;
}

async function rules(h: Harness): Promise<Record<string, unknown>[]> {
  const res = await admin(h.app, ADMIN, 'GET', '/faults');
  assert.equal(res.status, 200);
  return res.body.result;
}

describe('fault rules API', () => {
  freshPerTest();

  test('given an http rule, when it is added, then it answers 201 with its id and defaults, and is listed with its counts', async () => {
    const res = await admin(h.app, ADMIN, 'POST', '/faults', {
      method: 'GET',
      path: '/accounts/*/shares/*',
      status: 429,
      count: 2,
    });
    assertSuccess(res, 201);
    const rule = res.body.result;
    assert.match(rule.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(rule, {
      id: rule.id,
      target: 'http',
      method: 'GET',
      path: '/accounts/*/shares/*',
      status: 429,
      retry_after_s: 1,
      probability: 1,
      after: 0,
      count: 2,
      fired: 0,
      seen: 0,
    });
    assert.deepEqual(await rules(h), [rule]);
  });

  test('given a latency-only rule and a delivery rule, when added, then method and path default to any and the delivery rule has its defaults', async () => {
    const slow = await addRule(h, { latency_ms: 5 });
    assert.deepEqual(slow, {
      id: slow.id,
      target: 'http',
      method: '*',
      path: '/**',
      latency_ms: 5,
      probability: 1,
      after: 0,
      fired: 0,
      seen: 0,
    });
    const delivery = await addRule(h, { target: 'delivery', account_id: R1 });
    assert.deepEqual(delivery, {
      id: delivery.id,
      target: 'delivery',
      account_id: R1,
      terminal: false,
      message: 'Injected delivery fault',
      fired: 0,
      seen: 0,
    });
    assert.deepEqual(
      (await rules(h)).map((r) => r.id),
      [slow.id, delivery.id],
    );
  });

  test('given rules, when one is deleted by id and then all are, then they are gone; an unknown id is a 404', async () => {
    const one = await addRule(h, { status: 503 });
    const two = await addRule(h, { status: 500 });
    const three = await addRule(h, { target: 'delivery' });
    const removed = await admin(h.app, ADMIN, 'DELETE', `/faults/${two.id}`);
    assertSuccess(removed);
    assert.deepEqual(removed.body.result, { id: two.id });
    assert.deepEqual(
      (await rules(h)).map((r) => r.id),
      [one.id, three.id],
    );
    assertError(await admin(h.app, ADMIN, 'DELETE', `/faults/${two.id}`), 404, 1404, FAULT_NOT_FOUND);
    assertError(
      await admin(h.app, ADMIN, 'DELETE', `/faults/${'x'.repeat(33)}`),
      400,
      1400,
      /id must be at most 32/,
      '/path/id',
    );
    const cleared = await admin(h.app, ADMIN, 'DELETE', '/faults');
    assertSuccess(cleared);
    assert.deepEqual(cleared.body.result, { deleted: 2 });
    assert.deepEqual(await rules(h), []);
    // With no rule left, the share API answers as usual.
    assertSuccess(await call(h.app, 'GET', base()));
  });

  test('given bad rule bodies, when added, then each is a 400 naming the field', async () => {
    const cases: [unknown, string | RegExp, string][] = [
      [{ status: 418 }, 'status must be one of: 429, 500, 502, 503, 504', '/status'],
      [{ status: '503' }, 'status must be an integer', '/status'],
      [
        { status: 503, method: 'FETCH' },
        'method must be one of: *, GET, HEAD, POST, PUT, PATCH, DELETE',
        '/method',
      ],
      [{ status: 503, probability: 1.5 }, 'probability must be at most 1', '/probability'],
      [{ status: 503, probability: -0.1 }, 'probability must be at least 0', '/probability'],
      [{ status: 503, count: 0 }, 'count must be at least 1', '/count'],
      [{ status: 503, count: 1.5 }, 'count must be an integer', '/count'],
      [{ status: 503, after: -1 }, 'after must be at least 0', '/after'],
      [{ latency_ms: 60_001 }, 'latency_ms must be at most 60000', '/latency_ms'],
      [{ status: 503, path: 'accounts/*' }, 'path must start with "/"', '/path'],
      [{ status: 503, path: '/accounts/acc*' }, 'path segments must be *, ** or text without *', '/path'],
      [{ status: 503, path: '' }, 'path must not be empty', '/path'],
      [{ path: '/accounts/**' }, 'status or latency_ms is required', '/status'],
      [{}, 'status or latency_ms is required', '/status'],
      [{ status: 503, retry_after_s: 5 }, 'retry_after_s applies only to status 429', '/retry_after_s'],
      [{ status: 429, retry_after_s: 3601 }, 'retry_after_s must be at most 3600', '/retry_after_s'],
      [{ status: 503, terminal: true }, 'terminal applies only to delivery rules', '/terminal'],
      [{ status: 503, account_id: R1 }, 'account_id applies only to delivery rules', '/account_id'],
      [{ target: 'delivery', status: 503 }, 'status applies only to http rules', '/status'],
      [{ target: 'delivery', path: '/**' }, 'path applies only to http rules', '/path'],
      [{ target: 'delivery', terminal: 'yes' }, 'terminal must be a boolean', '/terminal'],
      [
        { target: 'delivery', resource_type: 'zone' },
        /^resource_type must be one of: custom-ruleset, /,
        '/resource_type',
      ],
      [{ target: 'delivery', count: 0 }, 'count must be at least 1', '/count'],
      [{ target: 'delivery', message: '' }, 'message must not be empty', '/message'],
      [{ target: 'edge', status: 503 }, 'target must be one of: http, delivery', '/target'],
      [{ status: 503, colour: 'red' }, 'colour is not a field of a fault rule', '/colour'],
      [{ status: 503, 'a/b': 1 }, 'a/b is not a field of a fault rule', '/a~1b'],
    ];
    for (const [body, message, pointer] of cases) {
      const res = await admin(h.app, ADMIN, 'POST', '/faults', body);
      assertError(res, 400, 1400, message, pointer);
    }
    assertError(await admin(h.app, ADMIN, 'POST', '/faults', [1]), 400, 1400, 'body must be an object', '');
    assert.deepEqual(await rules(h), []);
  });

  test('given no admin token, when the fault API is called, then it is refused', async () => {
    for (const token of [null, TOKENS.owner]) {
      assertError(await call(h.app, 'GET', '/_rshare/faults', { token }), 403, 10000, 'Authentication error');
      assertError(
        await call(h.app, 'POST', '/_rshare/faults', { token, body: { status: 503 } }),
        403,
        10000,
        'Authentication error',
      );
    }
    assert.deepEqual(await rules(h), []);
  });
});

describe('HTTP faults', () => {
  freshPerTest();

  test('given a count: 1 503 rule on GET share, when the share is read twice, then the first read is the fault and the second the share', async () => {
    const id = await accountShare(h.app);
    const rule = await addRule(h, { method: 'GET', path: '/accounts/*/shares/*', status: 503, count: 1 });
    const first = await call(h.app, 'GET', `${base()}/${id}`);
    assertError(first, 503, 1503, 'Service temporarily unavailable');
    assert.match(String(first.headers['x-request-id']), /\S/);
    assert.equal(first.headers['retry-after'], undefined);
    const second = await call(h.app, 'GET', `${base()}/${id}`);
    assertSuccess(second);
    assert.equal(second.body.result.id, id);
    assert.deepEqual(await rules(h), [{ ...rule, fired: 1, seen: 2 }]);
  });

  test('given after: 2, count: 1, when the route is called five times, then exactly the third call is faulted', async () => {
    const id = await accountShare(h.app);
    const rule = await addRule(h, { path: '/accounts/*/shares/*', status: 500, after: 2, count: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(h.app, 'GET', `${base()}/${id}`)).status);
    assert.deepEqual(statuses, [200, 200, 500, 200, 200]);
    assert.deepEqual(await rules(h), [{ ...rule, fired: 1, seen: 5 }]);
  });

  test('given a 429 rule, when it fires, then it answers as Cloudflare rate-limits: code 971 and Retry-After', async () => {
    await addRule(h, { path: '/accounts/*/shares', status: 429, count: 1 });
    await addRule(h, { path: '/accounts/*/shares', status: 429, retry_after_s: 7, count: 1 });
    const first = await call(h.app, 'GET', base());
    assertError(first, 429, 971, 'Please wait and consider throttling your request speed');
    assert.equal(first.headers['retry-after'], '1');
    const second = await call(h.app, 'GET', base());
    assertError(second, 429, 971, 'Please wait and consider throttling your request speed');
    assert.equal(second.headers['retry-after'], '7');
    assertSuccess(await call(h.app, 'GET', base()));
  });

  test('given each 5xx status, when its rule fires, then the answer carries the server-error code', async () => {
    const expected: [number, number, string][] = [
      [500, 1500, 'Internal server error'],
      [502, 1502, 'Bad gateway'],
      [503, 1503, 'Service temporarily unavailable'],
      [504, 1504, 'Gateway timeout'],
    ];
    for (const [status, code, message] of expected) {
      await addRule(h, { status, count: 1 });
      assertError(await call(h.app, 'GET', base()), status, code, message);
    }
  });

  test('given a 500 rule on create, when a share is created, then nothing is created and the request is journaled with its body', async () => {
    await addRule(h, { method: 'POST', path: '/accounts/*/shares', status: 500, count: 1 });
    const body = seedShareBody();
    assertError(await call(h.app, 'POST', base(), { body }), 500, 1500, 'Internal server error');
    const list = await call(h.app, 'GET', base());
    assertSuccess(list);
    assert.deepEqual(list.body.result, []);
    assert.equal(list.body.result_info.total_count, 0);
    const [, journaled] = (await admin(h.app, ADMIN, 'GET', '/requests')).body.result;
    assert.equal(journaled.method, 'POST');
    assert.equal(journaled.status, 500);
    assert.equal(journaled.operation_id, 'share-create');
    assert.deepEqual(journaled.body, body);
    // Faulted before authentication: no caller is known.
    assert.equal(journaled.caller, null);
  });

  test('given a rule, when the request has no credentials, a malformed body or a wrong content type, then the fault still answers (it comes before authentication and parsing)', async () => {
    await addRule(h, { method: 'POST', path: '/accounts/*/shares', status: 503 });
    assertError(
      await call(h.app, 'POST', base(), { token: null, body: seedShareBody() }),
      503,
      1503,
      'Service temporarily unavailable',
    );
    const malformed = await h.app.inject({
      method: 'POST',
      url: base(),
      headers: { authorization: `Bearer ${TOKENS.owner}`, 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    assert.equal(malformed.statusCode, 503);
    assert.equal(malformed.json().errors[0].code, 1503);
    const text = await h.app.inject({
      method: 'POST',
      url: base(),
      headers: { authorization: `Bearer ${TOKENS.owner}`, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(text.statusCode, 503);
    const journaled = (await admin(h.app, ADMIN, 'GET', '/requests')).body.result;
    assert.deepEqual(
      journaled.map((e: { status: number; body: unknown }) => [e.status, e.body]),
      [
        [503, null],
        [503, null],
        [503, seedShareBody()],
      ],
    );
    const [rule] = await rules(h);
    assert.equal(rule?.fired, 3);
  });

  test('given a rule path, when the API is called under /client/v4, at the root, with a trailing slash or a query, then the same rule matches', async () => {
    await addRule(h, { method: 'GET', path: '/accounts/*/shares', status: 502 });
    for (const url of [
      base(),
      `/accounts/${OWNER}/shares`,
      `${base()}/`,
      `${base()}?per_page=5`,
      `/accounts/${OWNER}/shares/?page=2`,
    ]) {
      assertError(await call(h.app, 'GET', url), 502, 1502, 'Bad gateway');
    }
    const [rule] = await rules(h);
    assert.equal(rule?.fired, 5);
  });

  test('given a method and a path, when other methods or paths are called, then they are not faulted and not counted', async () => {
    const id = await accountShare(h.app);
    await addRule(h, { method: 'DELETE', path: '/accounts/*/shares/*', status: 503 });
    assertSuccess(await call(h.app, 'GET', `${base()}/${id}`));
    assertSuccess(await call(h.app, 'GET', base()));
    assertSuccess(await call(h.app, 'GET', `${base()}/${id}/recipients`));
    assertError(await call(h.app, 'DELETE', `${base()}/${id}`), 503, 1503, 'Service temporarily unavailable');
    const [rule] = await rules(h);
    assert.deepEqual([rule?.seen, rule?.fired], [1, 1]);
  });

  test('given a /** rule, when unknown routes are called, then they are faulted too', async () => {
    await addRule(h, { status: 504 });
    assertError(await call(h.app, 'GET', '/client/v4/nothing/here'), 504, 1504, 'Gateway timeout');
    assertError(await call(h.app, 'GET', '/'), 504, 1504, 'Gateway timeout');
  });

  test('given a /** rule, when health, readiness, metrics or admin paths are called, then they are never faulted', async () => {
    await addRule(h, { status: 503 });
    assert.equal((await call(h.app, 'GET', '/healthz')).status, 200);
    assert.equal((await call(h.app, 'GET', '/readyz')).status, 200);
    assert.equal((await call(h.app, 'GET', '/healthz/')).status, 200);
    // No metrics registry in this app: /metrics is an unknown route, yet still not faulted.
    assertNoRoute(await call(h.app, 'GET', '/metrics'));
    assertNoRoute(await call(h.app, 'GET', '/_rshare/nothing', { token: ADMIN }));
    assertError(await call(h.app, 'GET', '/_rshare/faults'), 403, 10000, 'Authentication error');
    const [rule] = await rules(h);
    assert.deepEqual([rule?.seen, rule?.fired], [0, 0]);
  });

  test('given two matching rules, when a request matches both, then the first in insertion order fires; once it is used up, the next one does', async () => {
    const first = await addRule(h, { status: 500, count: 1 });
    const second = await addRule(h, { status: 502, count: 1 });
    assert.equal((await call(h.app, 'GET', base())).status, 500);
    assert.equal((await call(h.app, 'GET', base())).status, 502);
    assert.equal((await call(h.app, 'GET', base())).status, 200);
    assert.deepEqual(await rules(h), [
      { ...first, fired: 1, seen: 3 },
      { ...second, fired: 1, seen: 2 },
    ]);
  });

  test('given a latency rule without a status, when it fires, then the request is answered normally after the delay', async () => {
    const slow = await addRule(h, { method: 'GET', path: '/accounts/*/shares', latency_ms: 20, count: 1 });
    assertSuccess(await call(h.app, 'GET', base()));
    const delayed = await addRule(h, {
      method: 'GET',
      path: '/accounts/*/shares',
      latency_ms: 20,
      status: 503,
    });
    assertError(await call(h.app, 'GET', base()), 503, 1503, 'Service temporarily unavailable');
    assert.deepEqual(await rules(h), [
      { ...slow, fired: 1, seen: 2 },
      { ...delayed, fired: 1, seen: 1 },
    ]);
  });
});

describe('HTTP faults with a probability', () => {
  test('given probability 0.5 and a scripted random source, when requests arrive, then the rule fires when the draw is below 0.5 and always counts the request', async () => {
    const draws = [0.9, 0.2, 0.5, 0.49];
    const c = controls(() => draws.shift() ?? 1);
    const h = await setup({ clock: c.clock, app: c.app });
    try {
      const rule = await addRule(h, { path: '/accounts/*/shares', status: 503, probability: 0.5 });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await call(h.app, 'GET', base())).status);
      assert.deepEqual(statuses, [200, 503, 200, 503, 200]);
      assert.deepEqual(await rules(h), [{ ...rule, fired: 2, seen: 5 }]);
    } finally {
      await h.close();
    }
  });

  test('given probability 0, when requests arrive, then the rule never fires', async () => {
    const registry = new FaultRegistry({ random: () => 0 });
    registry.add({ status: 503, probability: 0 });
    assert.equal(registry.matchHttp('GET', '/accounts/x/shares'), undefined);
    assert.deepEqual(
      registry.list().map((r) => [r.seen, r.fired]),
      [[1, 0]],
    );
  });
});

describe('path globs', () => {
  test('given globs, when paths are matched, then * is one segment and ** any number, after /client/v4 and without a trailing slash', () => {
    const cases: [string, string, boolean][] = [
      ['/accounts/*/shares/*', '/accounts/a/shares/s', true],
      ['/accounts/*/shares/*', '/client/v4/accounts/a/shares/s', true],
      ['/accounts/*/shares/*', '/accounts/a/shares/s/', true],
      ['/accounts/*/shares/*', '/accounts/a/shares', false],
      ['/accounts/*/shares/*', '/accounts/a/shares/s/recipients', false],
      ['/accounts/*/shares/*', '/accounts/a/b/shares/s', false],
      ['/accounts/**', '/accounts', true],
      ['/accounts/**', '/accounts/a/shares/s/recipients/r', true],
      ['/accounts/**/recipients', '/accounts/a/shares/s/recipients', true],
      ['/accounts/**/recipients', '/accounts/a/shares/s/resources', false],
      ['/**/shares', '/organizations/o/shares', true],
      ['/**/shares', '/shares', true],
      ['/**', '/', true],
      ['/**', '/client/v4', true],
      ['/*', '/', false],
      ['/client/v4/accounts/*', '/accounts/a', true],
      ['/accounts/*', '/Accounts/a', false],
      ['/**/**/**/**/**/**/**/**/**/x', `/${'a/'.repeat(200)}y`, false],
    ];
    for (const [glob, path, expected] of cases) {
      assert.equal(compileGlob(glob)(path), expected, `${glob} ${path}`);
    }
  });
});

describe('HTTP faults through the official SDK', () => {
  let h: Harness;
  let c: Controls;
  let baseURL: string;
  let shareId: string;
  before(async () => {
    c = controls();
    h = await setup({ clock: c.clock, app: c.app });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    baseURL = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/client/v4`;
    shareId = await accountShare(h.app);
  });
  after(() => h.close());
  beforeEach(() => {
    c.faults.clear();
    c.journal.clear();
  });

  const sdk = (extra: Partial<ConstructorParameters<typeof Cloudflare>[0]> = {}) =>
    new Cloudflare({ apiToken: TOKENS.owner, apiKey: null, apiEmail: null, baseURL, ...extra });

  const journaledStatuses = () => c.journal.list({ operation_id: 'shares-get-by-id' }).map((e) => e.status);

  test('given a count: 1 503 on GET share, when the SDK reads it with its default retries, then it retries through', async () => {
    c.faults.add({ method: 'GET', path: '/accounts/*/shares/*', status: 503, count: 1 });
    const share = await sdk().resourceSharing.get(shareId, { account_id: OWNER });
    assert.equal(share.id, shareId);
    assert.deepEqual(journaledStatuses(), [200, 503]);
  });

  test('given a count: 5 503 on GET share, when the SDK reads it with 2 retries, then it throws after three attempts', async () => {
    c.faults.add({ method: 'GET', path: '/accounts/*/shares/*', status: 503, count: 5 });
    let err: unknown;
    try {
      await sdk({ maxRetries: 2 }).resourceSharing.get(shareId, { account_id: OWNER });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Cloudflare.InternalServerError, String(err));
    assert.equal(err.status, 503);
    assert.deepEqual(err.errors, [{ code: 1503, message: 'Service temporarily unavailable' }]);
    assert.deepEqual(journaledStatuses(), [503, 503, 503]);
    assert.deepEqual(
      c.faults.list().map((r) => r.fired),
      [3],
    );
  });

  test('given a 429, when the SDK does not retry, then it throws a RateLimitError with code 971 and Retry-After; with Retry-After 0 it retries through', async () => {
    c.faults.add({ method: 'GET', path: '/accounts/*/shares/*', status: 429, count: 1 });
    let err: unknown;
    try {
      await sdk({ maxRetries: 0 }).resourceSharing.get(shareId, { account_id: OWNER });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Cloudflare.RateLimitError, String(err));
    assert.deepEqual(err.errors, [
      { code: 971, message: 'Please wait and consider throttling your request speed' },
    ]);
    assert.equal(err.headers?.get('retry-after'), '1');

    c.faults.add({ method: 'GET', path: '/accounts/*/shares/*', status: 429, retry_after_s: 0, count: 1 });
    const share = await sdk({ maxRetries: 1 }).resourceSharing.get(shareId, { account_id: OWNER });
    assert.equal(share.id, shareId);
    assert.deepEqual(journaledStatuses(), [200, 429, 429]);
  });
});

describe('delivery faults', () => {
  let reconciler: Reconciler;
  freshPerTest();
  beforeEach(async () => {
    reconciler = buildReconciler({
      store: h.store,
      clock: h.clock,
      drivers: withDeliveryFaults(testDrivers(h), c.faults),
    });
    // setup() queues organization work: start from an empty queue.
    await reconciler.reconcileOnce();
  });

  /** Each recipient's status and per-resource error and terminal flag, keyed by account. */
  async function deliveryState(shareId: string) {
    const byAccount: Record<string, { status: string; resources: { error: string; terminal: boolean }[] }> =
      {};
    for (const r of await recipientList(h.app, shareId, { include: true })) {
      assert.ok(r.resources, `${r.account_id}: include_resources=true lists its resources`);
      byAccount[r.account_id] = {
        status: r.association_status,
        resources: r.resources.map((x) => ({ error: x.error, terminal: x.terminal })),
      };
    }
    return byAccount;
  }

  const inventoryOf = async (account: string) => (await h.store.inventory.list(account, 100, 0)).rows.length;

  test('given a terminal delivery fault for one recipient, when the reconciler runs, then its recipient settles with the terminal error and nothing delivered, and is not retried', async () => {
    const rule = await addRule(h, {
      target: 'delivery',
      account_id: R1,
      terminal: true,
      message: 'Quota exceeded',
    });
    const shareId = await accountShare(h.app, [R1, R2]);
    const report = await reconciler.reconcileOnce();
    assert.equal(report.retried, 0);
    assert.deepEqual(await deliveryState(shareId), {
      // A terminal error settles the recipient (as a missing entitlement does): the error tells why.
      [R1]: { status: 'associated', resources: [{ error: 'Quota exceeded', terminal: true }] },
      [R2]: { status: 'associated', resources: [{ error: '', terminal: false }] },
    });
    assert.equal(await inventoryOf(R1), 0);
    assert.equal(await inventoryOf(R2), 1);
    // Terminal: settled, not retried, even long after.
    h.clock.advance(3_600_000);
    assert.equal((await reconciler.reconcileOnce()).processed, 0);
    assert.deepEqual((await deliveryState(shareId))[R1]?.resources, [
      { error: 'Quota exceeded', terminal: true },
    ]);
    assert.equal(await inventoryOf(R1), 0);
    assert.deepEqual(await rules(h), [{ ...rule, fired: 1, seen: 1 }]);
  });

  test('given a retryable delivery fault with count: 1, when the reconciler runs and retries, then the recipient shows the error, then recovers', async () => {
    const rule = await addRule(h, { target: 'delivery', account_id: R1, count: 1 });
    const shareId = await accountShare(h.app, [R1]);
    const first = await reconciler.reconcileOnce();
    assert.equal(first.retried, 1);
    assert.deepEqual(await deliveryState(shareId), {
      [R1]: { status: 'associating', resources: [{ error: 'Injected delivery fault', terminal: false }] },
    });
    assert.equal(await inventoryOf(R1), 0);
    h.clock.advance(60_000); // past the backoff cap
    const second = await reconciler.reconcileOnce();
    assert.equal(second.retried, 0);
    assert.deepEqual(await deliveryState(shareId), {
      [R1]: { status: 'associated', resources: [{ error: '', terminal: false }] },
    });
    assert.equal(await inventoryOf(R1), 1);
    assert.deepEqual(await rules(h), [{ ...rule, fired: 1, seen: 2 }]);
  });

  test('given a delivery fault for another resource type, when the reconciler runs, then custom rulesets are delivered', async () => {
    await addRule(h, { target: 'delivery', resource_type: 'gateway-policy', terminal: true });
    const shareId = await accountShare(h.app, [R1]);
    await reconciler.reconcileOnce();
    assert.equal((await deliveryState(shareId))[R1]?.status, 'associated');
    const [rule] = await rules(h);
    assert.deepEqual([rule?.seen, rule?.fired], [0, 0]);
  });
});

describe('withDeliveryFaults', () => {
  const delivery = (account: string, type: ResourceType = 'custom-ruleset'): Delivery => ({
    action: 'apply',
    share_id: hexId(1, 'f'),
    recipient_id: hexId(2, 'f'),
    recipient_account_id: account,
    association: '2026-01-01T00:00:00.000000Z',
    resource: { id: hexId(3, 'f'), resource_type: type } as ResourceRow,
  });

  test('given a batching driver, when some deliveries are faulted, then the rest reach it in one call and outcomes keep their order', async () => {
    const calls: Delivery[][] = [];
    const real: DeliveryDriver = {
      name: 'batch',
      deliver: async () => ({ ok: true }),
      deliverMany: async (ds) => {
        calls.push(ds);
        return ds.map(() => ({ ok: true }));
      },
    };
    const faults = new FaultRegistry();
    faults.add({ target: 'delivery', account_id: R1, terminal: true, message: 'No' });
    const registry = withDeliveryFaults({ for: () => real, inProcess: true }, faults);
    assert.equal(registry.inProcess, true);
    const driver = registry.for('custom-ruleset');
    assert.equal(
      driver,
      registry.for('gateway-policy'),
      'one wrapper per real driver, so batches stay whole',
    );
    assert.equal(driver.name, 'batch');
    const outcomes = await driver.deliverMany?.([delivery(R2), delivery(R1), delivery(OWNER)]);
    const no: DeliveryOutcome = { ok: false, terminal: true, error: 'No' };
    assert.deepEqual(outcomes, [{ ok: true }, no, { ok: true }]);
    assert.deepEqual(
      calls.map((ds) => ds.map((d) => d.recipient_account_id)),
      [[R2, OWNER]],
    );
    // Every delivery faulted: the real driver is not called at all.
    assert.deepEqual(await driver.deliverMany?.([delivery(R1)]), [no]);
    assert.equal(calls.length, 1);
  });

  test('given an in-store driver (stage), when some deliveries are faulted, then only the rest are staged and outcomes keep their order', () => {
    const staged: string[][] = [];
    const real: DeliveryDriver = {
      name: 'inventory',
      deliver: async () => ({ ok: true }),
      stage: (ds) => {
        staged.push(ds.map((d) => d.recipient_account_id));
        return {
          outcomes: ds.map(() => ({ ok: true })),
          inventory: {
            put: [],
            remove: ds.map((d) => ({ account_id: d.recipient_account_id, share_resource_id: d.resource.id })),
          },
        };
      },
    };
    const faults = new FaultRegistry();
    faults.add({ target: 'delivery', account_id: R1, terminal: false, message: 'Later' });
    const driver = withDeliveryFaults({ for: () => real, inProcess: true }, faults).for('custom-ruleset');
    const result = driver.stage?.([delivery(R2), delivery(R1), delivery(OWNER)]);
    assert.deepEqual(result?.outcomes, [
      { ok: true },
      { ok: false, terminal: false, error: 'Later' },
      { ok: true },
    ]);
    assert.deepEqual(staged, [[R2, OWNER]]);
    assert.deepEqual(
      result?.inventory.remove.map((k) => k.account_id),
      [R2, OWNER],
      'the faulted delivery writes nothing',
    );
  });

  test('given a network driver (no deliverMany), when wrapped, then it stays single-delivery and faulted deliveries never reach it', async () => {
    const reached: string[] = [];
    const real: DeliveryDriver = {
      name: 'webhook',
      deliver: async (d) => {
        reached.push(d.recipient_account_id);
        return { ok: true };
      },
    };
    const faults = new FaultRegistry();
    faults.add({ target: 'delivery', resource_type: 'gateway-policy', count: 1 });
    const driver = withDeliveryFaults({ for: () => real }, faults).for('gateway-policy');
    assert.equal(driver.deliverMany, undefined);
    assert.deepEqual(await driver.deliver(delivery(R1, 'gateway-policy')), {
      ok: false,
      terminal: false,
      error: 'Injected delivery fault',
    });
    assert.deepEqual(await driver.deliver(delivery(R2, 'gateway-policy')), { ok: true });
    assert.deepEqual(await driver.deliver(delivery(R1, 'custom-ruleset')), { ok: true });
    assert.deepEqual(reached, [R2, R1]);
  });
});
