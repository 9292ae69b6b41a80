import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Cloudflare from 'cloudflare';
import pino from 'pino';
import { Registry } from 'prom-client';
import { faultRoutes } from '../src/emulator/faults/routes.js';
import { FaultRegistry } from '../src/emulator/faults/service.js';
import { journalRoutes } from '../src/emulator/journal/routes.js';
import {
  epochMicros,
  Journal,
  type JournalOptions,
  type JournalRecord,
} from '../src/emulator/journal/service.js';
import { heldBytes } from './support/gc.js';
import type { JournalEntry } from '../src/emulator/journal/schemas.js';
import { ManualClock } from '../src/lib/clock.js';
import {
  assertError,
  base,
  call,
  hexId,
  OWNER,
  R1,
  seedShareBody,
  setup,
  TOKENS,
  USER,
  type Harness,
  type Reply,
} from './helpers.js';
import { assertNoRoute } from './support/assert.js';

const ADMIN = 'admin-token-for-journal-tests';
const OWNER_TOKEN_ID = hexId(1, 'c');

interface Controls {
  clock: ManualClock;
  journal: Journal;
  faults: FaultRegistry;
}

async function start(options: Omit<JournalOptions, 'clock'> = {}): Promise<{ h: Harness; c: Controls }> {
  const clock = new ManualClock();
  const journal = new Journal({ clock, ...options });
  const faults = new FaultRegistry();
  const h = await setup({
    clock,
    app: {
      journal,
      faults,
      metrics: new Registry(),
      admin: {
        token: ADMIN,
        routes: (a) => {
          journalRoutes(a, journal);
          faultRoutes(a, faults);
        },
      },
    },
  });
  return { h, c: { clock, journal, faults } };
}

/** The journal through the admin API (`query` is the query string, without `?`). */
async function journaled(h: Harness, query = ''): Promise<JournalEntry[]> {
  const res = await call(h.app, 'GET', `/_rshare/requests${query ? `?${query}` : ''}`, { token: ADMIN });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.success, true);
  return res.body.result;
}

function assertOk(res: Reply, status = 200): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
}

describe('request journal', () => {
  let h: Harness;
  beforeEach(async () => {
    ({ h } = await start());
  });
  afterEach(() => h.close());

  test('given a create, when the journal is read, then it holds time, method, path, query, operation, status, request id, caller and the body as sent', async () => {
    // An unknown field is kept: the journal shows what was sent, not what validation kept.
    const body = { ...seedShareBody(), extra: { note: 'kept' } };
    const created = await call(h.app, 'POST', `${base()}?trace=1&trace=2&x=y`, { body });
    assertOk(created, 201);
    const [entry, ...rest] = await journaled(h);
    assert.deepEqual(rest, []);
    assert.ok(entry);
    assert.match(entry.time, /^2026-01-01T00:00:00\.\d{6}Z$/);
    assert.deepEqual(entry, {
      time: entry.time,
      method: 'POST',
      path: base(),
      query: { trace: ['1', '2'], x: 'y' },
      operation_id: 'share-create',
      status: 201,
      request_id: created.headers['x-request-id'],
      caller: { type: 'token', id: OWNER_TOKEN_ID },
      body_truncated: false,
      body,
    });
  });

  test('given a user with a global key, when it calls, then the caller is its email and no credential is journaled', async () => {
    const res = await call(h.app, 'GET', `/accounts/${OWNER}/shares?per_page=5`, {
      token: null,
      headers: { 'x-auth-email': ` ${USER.email.toUpperCase()} `, 'x-auth-key': USER.key },
    });
    assertOk(res);
    const [entry] = await journaled(h);
    assert.deepEqual(entry?.caller, { type: 'user', email: USER.email });
    assert.equal(entry?.path, `/accounts/${OWNER}/shares`);
    assert.deepEqual(entry?.query, { per_page: '5' });
    assert.equal(entry?.body, null);
    const text = JSON.stringify(await journaled(h));
    assert.ok(!text.includes(USER.key));
    assert.ok(!text.includes(TOKENS.owner));
  });

  test('given failing requests, when the journal is read, then they are journaled with their status; the body is kept when it was read', async () => {
    const unauthenticated = await call(h.app, 'POST', base(), { token: null, body: seedShareBody() });
    assertError(unauthenticated, 400, 9106, 'Missing X-Auth-Key, X-Auth-Email or Authorization headers');
    const invalid = await call(h.app, 'POST', base(), { body: { name: '' } });
    assertError(invalid, 400, 1400, 'recipients is required', '/recipients');
    const unknown = await call(h.app, 'GET', '/client/v4/nowhere?q=1');
    assertNoRoute(unknown);
    const entries = await journaled(h);
    assert.deepEqual(
      entries.map((e) => [e.method, e.path, e.operation_id, e.status, e.caller, e.body]),
      [
        ['GET', '/client/v4/nowhere', null, 404, null, null],
        ['POST', base(), 'share-create', 400, { type: 'token', id: OWNER_TOKEN_ID }, { name: '' }],
        // Refused at authentication, before its body was read.
        ['POST', base(), 'share-create', 400, null, null],
      ],
    );
  });

  test('given admin, health, readiness and metrics calls, when the journal is read, then none of them is in it', async () => {
    assertOk(await call(h.app, 'GET', '/healthz'));
    assertOk(await call(h.app, 'GET', '/readyz'));
    assert.equal((await h.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    assertOk(await call(h.app, 'GET', '/_rshare/faults', { token: ADMIN }));
    assertError(await call(h.app, 'GET', '/_rshare/requests'), 403, 10000, 'Authentication error');
    assertNoRoute(await call(h.app, 'GET', '/_rshare/unknown', { token: ADMIN }));
    assert.deepEqual(await journaled(h), []);
  });

  test('given journaled requests, when filters are given, then only matching entries come back, newest first', async () => {
    const share = (await call(h.app, 'POST', base(), { body: seedShareBody() })).body.result;
    await call(h.app, 'GET', `${base()}/${share.id}`);
    h.clock.advance(1000);
    const since = new Date(h.clock.now()).toISOString();
    await call(h.app, 'GET', `/accounts/${OWNER}/shares/${share.id}/recipients`);
    await call(h.app, 'GET', `${base()}/${'f'.repeat(32)}`);
    await call(h.app, 'DELETE', `${base()}/${share.id}`);

    const all = await journaled(h);
    assert.deepEqual(
      all.map((e) => e.operation_id),
      ['share-delete', 'shares-get-by-id', 'share-recipients-list', 'shares-get-by-id', 'share-create'],
    );
    const ops = async (query: string) =>
      (await journaled(h, query)).map((e) => `${e.operation_id} ${e.status}`);
    assert.deepEqual(await ops('method=GET'), [
      'shares-get-by-id 404',
      'share-recipients-list 200',
      'shares-get-by-id 200',
    ]);
    assert.deepEqual(await ops('method=delete'), ['share-delete 200']);
    assert.deepEqual(await ops('status=404'), ['shares-get-by-id 404']);
    assert.deepEqual(await ops('operation_id=share-create'), ['share-create 201']);
    // The path glob matches under /client/v4 and at the root alike.
    assert.deepEqual(await ops(`path=${encodeURIComponent('/accounts/*/shares/*')}`), [
      'share-delete 200',
      'shares-get-by-id 404',
      'shares-get-by-id 200',
    ]);
    assert.deepEqual(await ops(`path=${encodeURIComponent('/accounts/**/recipients')}`), [
      'share-recipients-list 200',
    ]);
    assert.deepEqual(await ops(`since=${since}`), [
      'share-delete 200',
      'shares-get-by-id 404',
      'share-recipients-list 200',
    ]);
    assert.deepEqual(await ops(`since=${since}&method=GET&status=200`), ['share-recipients-list 200']);
    // `since` is at-or-after, to the microsecond.
    const [newest] = all;
    assert.ok(newest);
    assert.deepEqual(await ops(`since=${newest.time}`), ['share-delete 200']);
    assert.deepEqual(await ops(`since=${encodeURIComponent(newest.time.replace('Z', '+00:00'))}`), [
      'share-delete 200',
    ]);
    assert.deepEqual(await ops(`since=${since.slice(0, 10)}T23:59:59Z`), []);
  });

  test('given a body nested 300,000 levels deep to an unknown route, when posted, then 400 pointing at the 65th level, and the journal lists it without its body', async () => {
    const res = await call(h.app, 'POST', '/client/v4/nope', {
      token: null,
      body: `${'['.repeat(300_000)}${']'.repeat(300_000)}`,
      headers: { 'content-type': 'application/json' },
    });
    assertError(res, 400, 1400, 'The body is nested more than 64 levels deep', '/0'.repeat(64));
    const [entry, ...rest] = await journaled(h);
    assert.deepEqual(rest, []);
    assert.deepEqual(
      [entry?.method, entry?.path, entry?.status, entry?.body_truncated, entry?.body],
      ['POST', '/client/v4/nope', 400, false, null],
    );
  });

  test('given a fault on every POST, when a body nested 300,000 levels deep is posted, then the fault answers and the journal lists it without its body', async () => {
    const { h: faulted, c } = await start();
    try {
      c.faults.add({ method: 'POST', path: '/**', status: 503 });
      const res = await call(faulted.app, 'POST', '/client/v4/nope', {
        token: null,
        body: `${'['.repeat(300_000)}${']'.repeat(300_000)}`,
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 503, 1503, 'Service temporarily unavailable');
      const shallow = await call(faulted.app, 'POST', '/client/v4/nope', { token: null, body: [[1]] });
      assertError(shallow, 503, 1503, 'Service temporarily unavailable');
      assert.deepEqual(
        (await journaled(faulted)).map((e) => [e.status, e.body]),
        [
          [503, [[1]]],
          [503, null],
        ],
      );
    } finally {
      await faulted.close();
    }
  });

  test('given bad filters, when the journal is read, then each is a 400 naming the parameter', async () => {
    const bad: [string, string, string][] = [
      ['status=abc', 'status must be an integer', '/query/status'],
      ['status=99', 'status must be at least 100', '/query/status'],
      ['since=yesterday', 'since must match format "date-time"', '/query/since'],
      ['path=accounts', 'path must start with "/"', '/query/path'],
      ['path=%2Facc*', 'path segments must be *, ** or text without *', '/query/path'],
    ];
    for (const [query, message, pointer] of bad) {
      assertError(
        await call(h.app, 'GET', `/_rshare/requests?${query}`, { token: ADMIN }),
        400,
        1400,
        message,
        pointer,
      );
    }
  });

  test('given a journal, when it is cleared, then it is empty and the clearing is not journaled', async () => {
    await call(h.app, 'GET', base());
    await call(h.app, 'GET', base());
    const cleared = await call(h.app, 'DELETE', '/_rshare/requests', { token: ADMIN });
    assertOk(cleared);
    assert.deepEqual(cleared.body.result, { deleted: 2 });
    assert.deepEqual(await journaled(h), []);
    await call(h.app, 'GET', base());
    assert.equal((await journaled(h)).length, 1);
  });
});

describe('request journal size', () => {
  test('given a journal of 3, when 5 requests are answered, then the 3 newest are kept', async () => {
    const { h } = await start({ size: 3 });
    try {
      for (let page = 1; page <= 5; page++) await call(h.app, 'GET', `${base()}?page=${page}`);
      assert.deepEqual(
        (await journaled(h)).map((e) => e.query.page),
        ['5', '4', '3'],
      );
    } finally {
      await h.close();
    }
  });

  test('given a bad size, when a journal is made, then it is refused', () => {
    for (const size of [0, -1, 1.5]) {
      assert.throws(() => new Journal({ size, clock: new ManualClock() }), RangeError);
    }
  });

  test('given bad byte bounds, when a journal is made, then each is refused with the reason', () => {
    const clock = new ManualClock();
    for (const maxBytes of [0, -1, 1.5]) {
      assert.throws(() => new Journal({ maxBytes, clock }), {
        name: 'RangeError',
        message: 'journal bytes must be a positive integer',
      });
    }
    assert.throws(() => new Journal({ maxBodyBytes: 0, clock }), {
      name: 'RangeError',
      message: 'journal body bytes must be a positive integer',
    });
    assert.throws(() => new Journal({ maxBytes: 1000, maxBodyBytes: 1001, clock }), {
      name: 'RangeError',
      message: 'journal body bytes must not exceed journal bytes',
    });
  });

  test('given timestamps, when converted to epoch microseconds, then fractions and offsets count', () => {
    const base = Date.UTC(2026, 0, 1) * 1000;
    assert.equal(epochMicros('2026-01-01T00:00:00Z'), base);
    assert.equal(epochMicros('2026-01-01T00:00:00.000001Z'), base + 1);
    assert.equal(epochMicros('2026-01-01T00:00:00.5Z'), base + 500_000);
    assert.equal(epochMicros('2026-01-01T01:00:00.123456789+01:00'), base + 123_456);
  });
});

const nowhere = (body: string | null, requestId = 'r'): JournalRecord => ({
  method: 'POST',
  path: '/client/v4/nope',
  query: {},
  operation_id: null,
  status: 404,
  request_id: requestId,
  caller: null,
  body,
});

/** What an entry costs: its JSON as listed. */
const entryBytes = (e: JournalEntry) => Buffer.byteLength(JSON.stringify(e));

describe('request journal bytes', () => {
  test('given a byte bound, when entries go over it, then the oldest go and the bytes held stay within it', () => {
    const journal = new Journal({ clock: new ManualClock(), maxBytes: 1000, maxBodyBytes: 500 });
    const body = JSON.stringify({ pad: 'x'.repeat(200) });
    for (let i = 0; i < 10; i++) assert.equal(journal.record(nowhere(body, `r${i}`)), true);
    const kept = journal.list();
    const size = entryBytes(kept[0] as JournalEntry);
    assert.equal(kept.length, Math.floor(1000 / size));
    assert.deepEqual(
      kept.map((e) => e.request_id),
      Array.from({ length: kept.length }, (_, i) => `r${9 - i}`),
    );
    assert.equal(
      journal.bytes,
      kept.map(entryBytes).reduce((a, b) => a + b),
    );
    assert.ok(journal.bytes <= 1000);
    journal.clear();
    assert.equal(journal.bytes, 0);
  });

  test('given an entry over the whole bound, when recorded, then it is kept without its body, marked truncated; one that cannot fit at all is not kept', () => {
    const clock = new ManualClock();
    const journal = new Journal({ clock, maxBytes: 400, maxBodyBytes: 400 });
    assert.equal(journal.record(nowhere(JSON.stringify('y'.repeat(380)))), true);
    const [entry] = journal.list();
    assert.deepEqual([entry?.body_truncated, entry?.body], [true, '']);
    assert.ok(journal.bytes <= 400);
    const tiny = new Journal({ clock, maxBytes: 50, maxBodyBytes: 10 });
    assert.equal(tiny.record(nowhere('1')), false);
    assert.deepEqual([tiny.list(), tiny.bytes], [[], 0]);
  });

  test('given a per-body cap, when bodies are posted, then one over it is kept as the start of its JSON text, cut between characters, and marked truncated', async () => {
    const { h } = await start({ maxBodyBytes: 100 });
    try {
      // {"name":" is 9 bytes and each € 3: 30 of them end at byte 99, the 31st would cross 100.
      const over = { name: '€'.repeat(40) };
      const exact = { name: 'a'.repeat(100 - '{"name":""}'.length) };
      assert.equal(Buffer.byteLength(JSON.stringify(exact)), 100);
      for (const body of [over, exact]) {
        assertNoRoute(await call(h.app, 'POST', '/client/v4/nope', { body }));
      }
      const [atCap, cut] = await journaled(h);
      assert.deepEqual([cut?.body_truncated, cut?.body], [true, `{"name":"${'€'.repeat(30)}`]);
      assert.deepEqual([atCap?.body_truncated, atCap?.body], [false, exact]);
    } finally {
      await h.close();
    }
  });

  test('given a journal that fails to record, when requests are answered, then their answers are unchanged and the failure is logged as a warning', async () => {
    class BrokenJournal extends Journal {
      override record(): boolean {
        throw new Error('journal broken');
      }
    }
    const lines: { level: number; reqId?: string; msg: string; err?: { message: string } }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const h = await setup({
      app: { journal: new BrokenJournal({ clock: new ManualClock() }), logger },
    });
    try {
      const created = await call(h.app, 'POST', base(), {
        body: seedShareBody(),
        headers: { 'x-request-id': 'broken-1' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assertNoRoute(await call(h.app, 'GET', '/client/v4/nope'));
      const mine = lines.find((l) => l.reqId === 'broken-1');
      assert.deepEqual(
        [mine?.level, mine?.msg, mine?.err?.message],
        [40, 'request not journaled', 'journal broken'],
      );
    } finally {
      await h.close();
    }
  });

  test('given 40 POSTs of a 1 MB body to an unknown route over HTTP, when a 1 MiB journal keeps them, then the heap grows by less than 8 MiB and the journal holds at most 1 MiB, every body marked truncated', async () => {
    const { h, c } = await start({ maxBytes: 1024 * 1024, maxBodyBytes: 64 * 1024 });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/client/v4/nope`;
    // One long string: 1 MB to keep, little to parse (an array of objects costs a second of CPU a body).
    const body = JSON.stringify({ pad: 'x'.repeat(1_000_000 - '{"pad":""}'.length) });
    const post = async () => {
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 404);
      await res.arrayBuffer();
    };
    try {
      for (let i = 0; i < 3; i++) await post();
      c.journal.clear();
      const before = await heldBytes();
      for (let i = 0; i < 40; i++) await post();
      const grown = (await heldBytes()) - before;
      assert.ok(grown < 8 * 1024 * 1024, `grew ${grown} bytes`);
      assert.ok(c.journal.bytes <= 1024 * 1024, `journal holds ${c.journal.bytes} bytes`);
      const entries = await journaled(h);
      assert.ok(entries.length >= 10 && entries.length < 40, `${entries.length} entries`);
      for (const e of entries) {
        assert.equal(e.body_truncated, true);
        assert.equal(e.body, body.slice(0, 64 * 1024));
      }
    } finally {
      await h.close();
    }
  });
});

describe('request journal through the official SDK', () => {
  let h: Harness;
  let baseURL: string;
  before(async () => {
    ({ h } = await start());
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    baseURL = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/client/v4`;
  });
  after(() => h.close());

  test('given SDK calls, when the journal is read, then it lists what the SDK sent', async () => {
    const cf = new Cloudflare({
      apiToken: TOKENS.owner,
      apiKey: null,
      apiEmail: null,
      baseURL,
      maxRetries: 0,
    });
    const created = await cf.resourceSharing.create({
      account_id: OWNER,
      name: 'From the SDK',
      recipients: [{ recipient_account_id: R1 }],
      resources: [
        { resource_account_id: OWNER, resource_id: hexId(7, 'e'), resource_type: 'custom-ruleset', meta: {} },
      ],
    });
    await cf.resourceSharing.get(created.id, { account_id: OWNER, include_resources: true });
    const [get, create] = await journaled(h);
    assert.ok(get && create);
    assert.deepEqual(
      { ...create, time: undefined, request_id: undefined },
      {
        time: undefined,
        method: 'POST',
        path: base(),
        query: {},
        operation_id: 'share-create',
        status: 201,
        request_id: undefined,
        caller: { type: 'token', id: OWNER_TOKEN_ID },
        body_truncated: false,
        body: {
          name: 'From the SDK',
          recipients: [{ recipient_account_id: R1 }],
          resources: [
            {
              resource_account_id: OWNER,
              resource_id: hexId(7, 'e'),
              resource_type: 'custom-ruleset',
              meta: {},
            },
          ],
        },
      },
    );
    assert.deepEqual(
      [get.method, get.path, get.query, get.operation_id, get.status, get.body],
      ['GET', `${base()}/${created.id}`, { include_resources: 'true' }, 'shares-get-by-id', 200, null],
    );
  });
});
