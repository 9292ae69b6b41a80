import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { faultRoutes } from '../src/emulator/faults/routes.js';
import { startRshare } from '../src/index.js';
import { FaultRegistry } from '../src/emulator/faults/service.js';
import { ControlledClock } from '../src/lib/clock.js';
import {
  CLOUDFLARE_POLICY,
  formatRateLimit,
  parseRateLimit,
  RateLimitOptionError,
  type RateLimitPolicy,
} from '../src/cloudflare/rate-limit/options.js';
import { PRUNE_BATCH, RateLimiter } from '../src/cloudflare/rate-limit/service.js';
import type { StateRows } from '../src/emulator/state/store.js';
import {
  assertError,
  base,
  call,
  hexId,
  OWNER,
  R1,
  setup,
  TOKENS,
  USER,
  type Harness,
  type Reply,
} from './helpers.js';
import { ROOT, startServer, writeOrganizationBootstrap, type ServerProcess } from './support/process.js';
import { openTestStore, STORE_KIND, type TestStore } from './support/store.js';
import { assertNoRoute } from './support/assert.js';

const POLICY: RateLimitPolicy = { quota: 3, windowSeconds: 60 };
const POLICY_HEADER = '"default";q=3;w=60';
/** 10.25 s into a 60-second window: 49.75 s left, so `t` is 50. */
const WINDOW = Date.UTC(2026, 0, 1, 0, 0, 0);
const T0 = WINDOW + 10_250;
const ADMIN = 'admin-token-for-rate-limit-tests';
const RATE_LIMITED = {
  success: false,
  errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
  messages: [],
  result: null,
};

/** A clock that moves only when the test moves it. */
const testClock = () => new ControlledClock(() => T0);

const user = { token: null, headers: { 'x-auth-email': USER.email, 'x-auth-key': USER.key } };

function assertLimit(res: Reply, remaining: number, reset: number): void {
  assert.equal(res.headers['ratelimit'], `"default";r=${remaining};t=${reset}`, JSON.stringify(res.body));
  assert.equal(res.headers['ratelimit-policy'], POLICY_HEADER);
}

function assertUnlimited(res: Reply): void {
  assert.equal(res.headers['ratelimit'], undefined);
  assert.equal(res.headers['ratelimit-policy'], undefined);
}

function assertRateLimited(res: Reply, retryAfter: number): void {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(res.body, RATE_LIMITED);
  assert.equal(res.headers['retry-after'], String(retryAfter));
  assertLimit(res, 0, retryAfter);
  assert.ok(res.headers['x-request-id'], 'a 429 carries the request id');
}

async function rows(h: Harness): Promise<number> {
  const [row] = await h.sql('SELECT COUNT(*) AS n FROM rate_limits');
  return Number(row?.n);
}

describe('rate limit options', () => {
  test('given off, cloudflare or <n>/<s>s in any case and with spaces around, when parsed, then the policy', () => {
    assert.equal(parseRateLimit('off'), undefined);
    assert.equal(parseRateLimit(' OFF '), undefined);
    assert.deepEqual(parseRateLimit('cloudflare'), { quota: 1200, windowSeconds: 300 });
    assert.deepEqual(parseRateLimit('Cloudflare'), CLOUDFLARE_POLICY);
    assert.deepEqual(parseRateLimit('100/60s'), { quota: 100, windowSeconds: 60 });
    assert.deepEqual(parseRateLimit('1/1S'), { quota: 1, windowSeconds: 1 });
    assert.deepEqual(parseRateLimit('1000000000/86400s'), { quota: 1_000_000_000, windowSeconds: 86_400 });
    assert.equal(formatRateLimit(CLOUDFLARE_POLICY), '1200/300s');
  });

  test('given a malformed value, when parsed, then an error names the accepted forms and the value', () => {
    for (const value of [
      '',
      'on',
      '100',
      '100/60',
      '100/s',
      '/60s',
      '0/60s',
      '100/0s',
      '-1/60s',
      '1.5/60s',
      '100 / 60s',
      '100/1m',
      '01/60s',
    ]) {
      assert.throws(
        () => parseRateLimit(value),
        (err: unknown) =>
          err instanceof RateLimitOptionError &&
          err.message === `expected off, cloudflare or <requests>/<seconds>s (like 100/60s), got "${value}"`,
        value,
      );
    }
  });

  test('given a quota or window past the bounds, when parsed, then an error names the bound', () => {
    assert.throws(() => parseRateLimit('1000000001/60s'), {
      message: 'requests per window must be at most 1000000000, got 1000000001',
    });
    assert.throws(() => parseRateLimit('100/86401s'), {
      message: 'the window must be at most 86400 seconds, got 86401',
    });
  });
});

describe('rshare serve --rate-limit', () => {
  const serve = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'serve', '--database', ':memory:', '--port', '0', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );

  test('given an invalid value on the command line or in RSHARE_RATE_LIMIT, when serve starts, then it exits 1 naming the option, the value and the accepted forms', () => {
    const flag = serve(['--rate-limit', '100/0s']);
    assert.equal(flag.status, 1, flag.stderr);
    assert.match(
      flag.stderr,
      /^error: option '--rate-limit <policy>' argument '100\/0s' is invalid\. expected off, cloudflare or <requests>\/<seconds>s \(like 100\/60s\), got "100\/0s"$/m,
    );
    const env = serve([], { RSHARE_RATE_LIMIT: '1200 per 5 minutes' });
    assert.equal(env.status, 1, env.stderr);
    assert.match(
      env.stderr,
      /^error: option '--rate-limit <policy>' value '1200 per 5 minutes' from env 'RSHARE_RATE_LIMIT' is invalid\. expected off, cloudflare or <requests>\/<seconds>s \(like 100\/60s\), got "1200 per 5 minutes"$/m,
    );
  });
});

describe('startRshare({ rateLimit }) (in memory)', () => {
  test('given rateLimit 2/60s, when a token calls three times, then the third is a 429; after reset() it is served again', async () => {
    const token = 'start-rshare-rate-limit-token-1';
    const rshare = await startRshare({
      rateLimit: '2/60s',
      bootstrap: {
        organizations: [{ id: hexId(1, 'a'), name: 'Acme' }],
        accounts: [{ id: OWNER, name: 'Owner', organization_id: hexId(1, 'a') }],
        tokens: [{ value: token, name: 'ci', accounts: [OWNER], permissions: ['read', 'edit'] }],
      },
    });
    try {
      await rshare.clock.freeze();
      await rshare.clock.set(new Date(T0));
      const get = () =>
        fetch(`${rshare.baseURL}/accounts/${OWNER}/shares`, {
          headers: { authorization: `Bearer ${token}` },
        });
      const first = await get();
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('ratelimit'), '"default";r=1;t=50');
      assert.equal(first.headers.get('ratelimit-policy'), '"default";q=2;w=60');
      assert.equal((await get()).status, 200);
      const limited = await get();
      assert.equal(limited.status, 429);
      assert.deepEqual(await limited.json(), RATE_LIMITED);
      await rshare.reset();
      await rshare.clock.freeze(); // a reset puts the clock back to the machine's time
      await rshare.clock.set(new Date(T0));
      const again = await get();
      assert.equal(again.status, 200);
      assert.equal(again.headers.get('ratelimit'), '"default";r=1;t=50');
    } finally {
      await rshare.close();
    }
  });

  test('given an invalid rateLimit, when started, then it rejects naming the accepted forms', async () => {
    await assert.rejects(startRshare({ rateLimit: '2 per minute' }), {
      name: 'Error',
      message: 'expected off, cloudflare or <requests>/<seconds>s (like 100/60s), got "2 per minute"',
    });
  });
});

describe(`rate limit through the API (${STORE_KIND})`, () => {
  let h: Harness;
  let clock: ControlledClock;
  let faults: FaultRegistry;
  const metrics = new Registry();

  /** A fresh window for every test: the next one after the current, at the same offset (t = 50). */
  const nextWindow = () => {
    const w = POLICY.windowSeconds * 1000;
    clock.set(Math.floor(clock.now() / w) * w + w + (T0 - WINDOW));
  };

  before(async () => {
    clock = testClock();
    faults = new FaultRegistry();
    h = await setup({
      clock,
      app: {
        rateLimit: POLICY,
        metrics,
        faults,
        admin: { token: ADMIN, routes: (a) => faultRoutes(a, faults) },
      },
    });
  });
  after(() => h.close());

  test('given a token, when it calls, then every answer carries Ratelimit (remaining after it, seconds to reset) and Ratelimit-Policy', async () => {
    nextWindow();
    const first = await call(h.app, 'GET', base());
    assert.equal(first.status, 200);
    assertLimit(first, 2, 50);
    clock.advance(500); // 49.25 s left: rounded up
    assertLimit(await call(h.app, 'GET', `/client/v4/accounts/${OWNER}/tokens/verify`), 1, 50);
    clock.advance(48_250); // 1 s left
    assertLimit(await call(h.app, 'GET', base()), 0, 1);
  });

  test('given the last millisecond of a window, when a token calls, then t is 1 (never 0)', async () => {
    nextWindow();
    clock.advance(49_749);
    assertLimit(await call(h.app, 'GET', base()), 2, 1);
  });

  test('given a token over its quota, when it calls again, then 429 with code 971, Cloudflare s message, Retry-After and r=0', async () => {
    nextWindow();
    for (const remaining of [2, 1, 0]) assertLimit(await call(h.app, 'GET', base()), remaining, 50);
    clock.advance(300); // 49.45 s left: Retry-After rounds up
    assertRateLimited(await call(h.app, 'GET', base()), 50);
    // A write is refused too, and changes nothing.
    assertRateLimited(await call(h.app, 'POST', base(), { body: { name: 'refused' } }), 50);
    clock.advance(30_000);
    assertRateLimited(await call(h.app, 'GET', base()), 20);
  });

  test('given a token that was limited, when the clock reaches the next window, then it is served again with a fresh quota', async () => {
    nextWindow();
    for (let i = 0; i < 4; i++) await call(h.app, 'GET', base());
    assertRateLimited(await call(h.app, 'GET', base()), 50);
    clock.advance(49_750); // exactly the window's end: the next window starts
    const res = await call(h.app, 'GET', base());
    assert.equal(res.status, 200);
    assertLimit(res, 2, 60);
  });

  test('given answers refused after the limit check (404, 403, 400 validation), then they carry the headers and count', async () => {
    nextWindow();
    const missing = await call(h.app, 'GET', `${base()}/${hexId(99, 'f')}`);
    assertError(missing, 404, 1404, 'Share not found');
    assertLimit(missing, 2, 50);
    const readOnly = await call(h.app, 'POST', base(), { token: TOKENS.ownerRead, body: {} });
    assertError(readOnly, 403, 10000, 'Authentication error');
    assertLimit(readOnly, 2, 50);
    const invalid = await call(h.app, 'GET', `${base()}?per_page=0`);
    assertError(invalid, 400, 1400, 'per_page must be at least 1', '/query/per_page');
    assertLimit(invalid, 1, 50);
    const outOfScope = await call(h.app, 'GET', base(R1));
    assertError(outOfScope, 403, 10000, 'Authentication error');
    assertLimit(outOfScope, 0, 50);
  });

  test('given two tokens and a user, when one token uses up its quota, then the others keep theirs; one token shares its count across routes and accounts', async () => {
    nextWindow();
    await call(h.app, 'GET', base());
    await call(h.app, 'GET', `/client/v4/user/tokens/verify`);
    assertLimit(await call(h.app, 'GET', `/client/v4/accounts/${R1}/shares`), 0, 50);
    assertRateLimited(await call(h.app, 'GET', base()), 50);
    const other = await call(h.app, 'GET', base(), { token: TOKENS.ownerRead });
    assert.equal(other.status, 200);
    assertLimit(other, 2, 50);
    const asUser = await call(h.app, 'GET', base(), user);
    assert.equal(asUser.status, 200);
    assertLimit(asUser, 2, 50);
    const orgToken = await call(h.app, 'GET', '/client/v4/user/tokens/verify', { token: TOKENS.org });
    assertLimit(orgToken, 2, 50);
  });

  test('given requests that do not authenticate (none, unknown, disabled token, wrong key, unknown route), then they count against the client address, and over it answer 429 instead of the authentication error', async () => {
    nextWindow();
    const none = await call(h.app, 'GET', base(), { token: null });
    assertError(none, 400, 9106, 'Missing X-Auth-Key, X-Auth-Email or Authorization headers');
    assertLimit(none, 2, 50);
    const unknown = await call(h.app, 'GET', base(), { token: 'guessed-token-value-000000001' });
    assertError(unknown, 400, 1000, 'Invalid API Token');
    assertLimit(unknown, 1, 50);
    const noRoute = await call(h.app, 'GET', '/client/v4/no/such/route');
    assertNoRoute(noRoute);
    assertLimit(noRoute, 0, 50);
    assertRateLimited(await call(h.app, 'GET', base(), { token: TOKENS.disabled }), 50);
    const wrongKey = await call(h.app, 'GET', base(), {
      token: null,
      headers: { 'x-auth-email': USER.email, 'x-auth-key': 'wrong-key' },
    });
    assertRateLimited(wrongKey, 50);
    // The address's count is its own: a valid token from the same address is served.
    assertLimit(await call(h.app, 'GET', base()), 2, 50);
    // Another address has its own count.
    const elsewhere = await h.app.inject({ method: 'GET', url: base(), remoteAddress: '192.0.2.7' });
    assert.equal(elsewhere.statusCode, 400);
    assert.equal(elsewhere.headers['ratelimit'], '"default";r=2;t=50');
  });

  test('given the root alias (/accounts/…), when called, then it is limited as /client/v4/…', async () => {
    nextWindow();
    assertLimit(await call(h.app, 'GET', `/accounts/${OWNER}/shares`), 2, 50);
    assertLimit(await call(h.app, 'GET', base()), 1, 50);
  });

  test('given a token over its quota, when health, readiness, metrics and the admin API are called many times, then they answer without limit or headers and use no count', async () => {
    nextWindow();
    for (let i = 0; i < 4; i++) await call(h.app, 'GET', base());
    for (let i = 0; i < 2 * POLICY.quota; i++) {
      for (const url of ['/healthz', '/readyz', '/metrics', '/healthz/']) {
        const res = await h.app.inject({
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${TOKENS.owner}` },
        });
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['ratelimit'], undefined, url);
        assert.equal(res.headers['ratelimit-policy'], undefined, url);
      }
      const admin = await call(h.app, 'GET', '/_rshare/faults', { token: ADMIN });
      assert.equal(admin.status, 200);
      assertUnlimited(admin);
      const refused = await call(h.app, 'GET', '/_rshare/faults', { token: null });
      assertError(refused, 403, 10000, 'Authentication error');
      assertUnlimited(refused);
    }
    // Neither the token's nor the address's count moved.
    assertRateLimited(await call(h.app, 'GET', base()), 50);
    assertLimit(await call(h.app, 'GET', base(), { token: null }), 2, 50);
  });

  test('given a fault rule, when it answers a request, then the request is not counted and carries no Ratelimit headers (answered at the edge, before the limiter)', async () => {
    nextWindow();
    const add = await call(h.app, 'POST', '/_rshare/faults', {
      token: ADMIN,
      body: { method: 'GET', path: '/accounts/*/shares', status: 503, count: 2 },
    });
    assert.equal(add.status, 201);
    for (let i = 0; i < 2; i++) {
      const faulted = await call(h.app, 'GET', base());
      assertError(faulted, 503, 1503, 'Service temporarily unavailable');
      assertUnlimited(faulted);
    }
    assertLimit(await call(h.app, 'GET', base()), 2, 50);
  });

  test('given a whole reset of the store, when a limited token calls again, then its count starts afresh', async () => {
    nextWindow();
    for (let i = 0; i < 4; i++) await call(h.app, 'GET', base(), { token: TOKENS.r1 });
    assertRateLimited(await call(h.app, 'GET', base(), { token: TOKENS.r1 }), 50);
    const tenancy = await h.store.state.exportRows(
      new Set<keyof StateRows>(['organizations', 'accounts', 'tokens', 'token_accounts']),
    );
    await h.store.state.importRows(tenancy); // empties every table first, counters included
    assert.equal(await rows(h), 0);
    const res = await call(h.app, 'GET', base(R1), { token: TOKENS.r1 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertLimit(res, 2, 50);
  });
});

describe(`rate limit off (${STORE_KIND})`, () => {
  let h: Harness;
  before(async () => {
    h = await setup({ clock: testClock() });
  });
  after(() => h.close());

  test('given no policy, when a token calls far more than any quota, then it is always served, without headers, and nothing is counted', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await call(h.app, 'GET', base());
      assert.equal(res.status, 200);
      assertUnlimited(res);
    }
    assertUnlimited(await call(h.app, 'GET', base(), { token: null }));
    assert.equal(await rows(h), 0);
  });
});

describe(`rate limit store and pruning (${STORE_KIND})`, () => {
  let db: TestStore;
  before(async () => {
    db = await openTestStore();
  });
  after(() => db.close());

  const count = async () => Number((await db.sql('SELECT COUNT(*) AS n FROM rate_limits'))[0]?.n);

  test('given 50 concurrent hits on one key and window, then each gets its own count, 1 to 50', async () => {
    const counts = await Promise.all(
      Array.from({ length: 50 }, () => db.store.rateLimits.hit('token:concurrent', WINDOW, WINDOW + 60_000)),
    );
    assert.deepEqual(
      counts.sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(await db.store.rateLimits.hit('token:concurrent', WINDOW + 60_000, WINDOW + 120_000), 1);
    await db.sql('DELETE FROM rate_limits');
  });

  test('given ended windows, when pruned with a limit, then at most that many go, and windows not yet ended stay', async () => {
    for (let i = 0; i < 5; i++) await db.store.rateLimits.hit(`ip:ended-${i}`, WINDOW, WINDOW + 60_000);
    await db.store.rateLimits.hit('ip:current', WINDOW + 60_000, WINDOW + 120_000);
    assert.equal(await db.store.rateLimits.prune(WINDOW + 60_000, 2), 2);
    assert.equal(await count(), 4);
    assert.equal(await db.store.rateLimits.prune(WINDOW + 60_000, 10), 3);
    assert.equal(await db.store.rateLimits.prune(WINDOW + 60_000, 10), 0);
    assert.deepEqual(await db.sql('SELECT key FROM rate_limits'), [{ key: 'ip:current' }]);
    await db.sql('DELETE FROM rate_limits');
  });

  test('given more ended windows than one prune batch, when a node sees a new window, then it prunes them all in batches, off the request path', async () => {
    const clock = testClock();
    const limiter = new RateLimiter(db.store.rateLimits, POLICY, clock);
    const keys = PRUNE_BATCH * 2 + 5;
    await Promise.all(Array.from({ length: keys }, (_, i) => limiter.hit(`token:${i}`)));
    await limiter.settled();
    assert.equal(await count(), keys);
    clock.advance(POLICY.windowSeconds * 1000);
    const decision = await limiter.hit('token:0');
    assert.equal(decision.allowed, true);
    await limiter.settled();
    assert.equal(await count(), 1);
    await db.sql('DELETE FROM rate_limits');
  });

  test('given a prune that fails, then the hit is still answered and the failure is reported', async () => {
    const errors: unknown[] = [];
    const failing = {
      hit: (key: string, start: number, reset: number) => db.store.rateLimits.hit(key, start, reset),
      prune: () => Promise.reject(new Error('database went away')),
    };
    const limiter = new RateLimiter(failing, POLICY, testClock(), (err) => errors.push(err));
    assert.equal((await limiter.hit('token:x')).remaining, 2);
    await limiter.settled();
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['database went away'],
    );
    await db.sql('DELETE FROM rate_limits');
  });
});

/**
 * Two real `rshare serve` processes on one database (PostgreSQL in the PostgreSQL run, one SQLite file
 * otherwise), their clocks set to the same frozen instant through the admin API so the window is known.
 */
describe(`rate limit across two nodes (${STORE_KIND})`, () => {
  const ORG = hexId(1, 'a');
  const TOKEN = 'two-node-rate-limit-token-00001';
  const QUOTA = 100;
  const REQUESTS = 300;
  let db: TestStore;
  let dir: string;
  const nodes: ServerProcess[] = [];

  before(async () => {
    db = await openTestStore();
    dir = mkdtempSync(join(tmpdir(), 'rshare-rate-limit-'));
    const bootstrap = join(dir, 'bootstrap.json');
    writeOrganizationBootstrap(bootstrap, {
      organization: ORG,
      name: 'Limited',
      accounts: [OWNER],
      token: TOKEN,
    });
    // One after the other: SQLite migrations and bootstraps take turns anyway.
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await startServer({
          database: db.url,
          bootstrap,
          role: 'api',
          serveArgs: ['--rate-limit', `${QUOTA}/60s`, '--admin-token', ADMIN],
        }),
      );
    }
    for (const node of nodes) {
      for (const body of [{ freeze: true }, { set: new Date(T0).toISOString() }]) {
        const res = await fetch(`${node.url}/_rshare/clock`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 200, await res.text());
      }
    }
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`given ${QUOTA}/60s and one token, when ${REQUESTS} requests are split concurrently across both nodes, then exactly ${QUOTA} are served and the rest answer 429`, async () => {
    const statuses: number[] = [];
    const remaining: number[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < REQUESTS; i = next++) {
        const node = nodes[i % 2] as ServerProcess;
        const res = await fetch(`${node.url}/client/v4/accounts/${OWNER}/shares`, {
          headers: { authorization: `Bearer ${TOKEN}` },
          signal: AbortSignal.timeout(15_000),
        });
        const body = (await res.json()) as unknown;
        statuses.push(res.status);
        assert.equal(res.headers.get('ratelimit-policy'), `"default";q=${QUOTA};w=60`);
        const m = /^"default";r=(\d+);t=50$/.exec(res.headers.get('ratelimit') ?? '');
        assert.ok(m, `Ratelimit: ${res.headers.get('ratelimit')}`);
        remaining.push(Number(m[1]));
        if (res.status === 429) {
          assert.deepEqual(body, RATE_LIMITED);
          assert.equal(res.headers.get('retry-after'), '50');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const served = statuses.filter((s) => s === 200).length;
    assert.equal(statuses.length, REQUESTS);
    assert.equal(served, QUOTA, `served ${served}, 429 ${statuses.filter((s) => s === 429).length}`);
    assert.equal(statuses.filter((s) => s === 429).length, REQUESTS - QUOTA);
    // Each served request saw a distinct remaining count: one shared counter, no lost updates.
    assert.deepEqual(
      remaining.filter((r) => r > 0).sort((a, b) => b - a),
      Array.from({ length: QUOTA - 1 }, (_, i) => QUOTA - 1 - i),
    );
  });
});
