import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUDIT_VALUE_MAX_BYTES,
  boundedValue,
  metaDiff,
  type TruncatedValue,
} from '../src/platform/audit/bound.js';
import { base, call, OWNER, R1, seedShareBody, setup, TOKENS, type Harness } from './helpers.js';
import { buildReconciler } from './support/reconciler.js';

/**
 * Audit entry size (issue 16, finding 7): each of an entry's JSON values is kept up to
 * AUDIT_VALUE_MAX_BYTES, and a resource change keeps only the meta keys that changed.
 */

const WINDOW = 'since=2025-01-01&before=2027-01-01';
/** Everything an entry stores besides its four JSON values, in these tests: ids, times, names, URI. */
const OTHER_COLUMNS_MAX_BYTES = 1024;
const ENTRY_MAX_BYTES = 4 * AUDIT_VALUE_MAX_BYTES + OTHER_COLUMNS_MAX_BYTES;
/** Just under 1 MB of meta, so the body stays under the 1 MiB limit. */
const BIG = 'x'.repeat(1_000_000);

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

/** Bytes a stored row's columns hold: text as UTF-8, anything else (numbers, times) as 8. */
function rowBytes(row: Record<string, unknown>): number {
  let n = 0;
  for (const v of Object.values(row)) {
    if (typeof v === 'string') n += Buffer.byteLength(v, 'utf8');
    else if (v !== null) n += 8;
  }
  return n;
}

describe('boundedValue', () => {
  test('given a value whose JSON fits, when bounded, then it is kept as it is', () => {
    const value = { meta: { a: 'b'.repeat(AUDIT_VALUE_MAX_BYTES - 20) } };
    assert.equal(boundedValue(value), value);
    assert.equal(boundedValue(undefined), null);
  });

  const cases: [string, unknown][] = [
    ['ASCII text', { meta: { blob: BIG } }],
    ['text that escapes to several bytes a character', { q: '"\\\n\u0001'.repeat(100_000) }],
    ['emoji (surrogate pairs, 4 bytes each)', { e: '😀'.repeat(50_000) }],
    ['an array of many small values', Array.from({ length: 20_000 }, (_, i) => ({ i }))],
  ];
  for (const [what, value] of cases) {
    test(`given ${what} over the bound, when bounded, then a marker within the bound that starts the JSON and counts its bytes`, () => {
      const json = JSON.stringify(value);
      const bounded = boundedValue(value) as TruncatedValue;
      assert.equal(bounded.truncated, true);
      assert.equal(bounded.bytes, Buffer.byteLength(json, 'utf8'));
      assert.ok(json.startsWith(bounded.json_prefix));
      const size = jsonBytes(bounded);
      assert.ok(size <= AUDIT_VALUE_MAX_BYTES, `${size} bytes`);
      // Close to the bound: a cut that kept far less would lose what it could have kept.
      assert.ok(size > AUDIT_VALUE_MAX_BYTES - 16, `${size} bytes`);
      assert.doesNotMatch(bounded.json_prefix, /[\uD800-\uDBFF]$/);
    });
  }

  test('given a tighter bound, when bounded, then that bound holds', () => {
    assert.ok(jsonBytes(boundedValue({ a: 'é'.repeat(1000) }, 200)) <= 200);
  });
});

describe('metaDiff', () => {
  test('given keys changed, added, removed and kept, when diffed, then each side holds only what changed', () => {
    assert.deepEqual(
      metaDiff(
        { same: { deep: [1, 2] }, changed: 1, removed: 'r', ['__proto__']: 'old' },
        { same: { deep: [1, 2] }, changed: 2, added: 'a', ['__proto__']: 'new' },
      ),
      {
        old: { changed: 1, removed: 'r', ['__proto__']: 'old' },
        new: { changed: 2, added: 'a', ['__proto__']: 'new' },
      },
    );
    assert.deepEqual(metaDiff({ a: 1 }, { a: 1 }), { old: {}, new: {} });
  });
});

describe('audit entries of a 1 MB meta stay within their bound', () => {
  let h: Harness;
  let shareId: string;
  let resourceId: string;
  before(async () => {
    h = await setup();
    const body = seedShareBody();
    body.resources[0]!.meta = { blob: BIG, level: 1 } as never;
    const created = await call(h.app, 'POST', base(), { body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    shareId = created.body.result.id;
    const reconciler = buildReconciler({ store: h.store, clock: h.clock });
    await reconciler.reconcileOnce();
    resourceId = (await call(h.app, 'GET', `${base()}/${shareId}/resources`)).body.result[0].id;
    const updated = await call(h.app, 'PUT', `${base()}/${shareId}/resources/${resourceId}`, {
      body: { meta: { blob: BIG, level: 2, added: true } },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    await reconciler.reconcileOnce();
  });
  after(() => h.close());

  test('given a create and an update with 1 MB of meta, each delivered to a recipient, when measuring every stored audit row, then each is within the bound', async () => {
    const rows = await h.sql('SELECT * FROM audit_logs');
    // Create, its delivery and the recipient settling; then the same for the update.
    assert.ok(rows.length >= 6, `${rows.length} rows`);
    for (const row of rows) {
      const size = rowBytes(row);
      assert.ok(size <= ENTRY_MAX_BYTES, `${String(row.action_description)}: ${size} bytes`);
    }
    // All of them together are smaller than one copy of the meta.
    assert.ok(rows.reduce((n, row) => n + rowBytes(row), 0) < BIG.length / 4);
  });

  test('given the update, when the owner reads its entry, then it says which meta keys changed and marks the request body as truncated', async () => {
    const v2 = await call(
      h.app,
      'GET',
      `/client/v4/accounts/${OWNER}/logs/audit?${WINDOW}&action_type=update&resource_type=share_resource`,
    );
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    const [entry] = v2.body.result;
    const request = entry.resource.request as TruncatedValue;
    assert.equal(request.truncated, true);
    assert.equal(request.bytes, jsonBytes({ meta: { blob: BIG, level: 2, added: true } }));
    assert.ok(request.json_prefix.startsWith('{"meta":{"blob":"xxx'));
    const v1 = await call(h.app, 'GET', `/client/v4/accounts/${OWNER}/audit_logs?id=${entry.id}`);
    const [legacy] = v1.body.result;
    assert.deepEqual(JSON.parse(legacy.oldValue), {
      resource_id: seedShareBody().resources[0]!.resource_id,
      resource_type: 'custom-ruleset',
      status: 'active',
      resource_version: 1,
      meta: { level: 1 },
    });
    assert.deepEqual(JSON.parse(legacy.newValue).meta, { level: 2, added: true });
    assert.equal(JSON.parse(legacy.newValue).resource_version, 2);
  });

  test('given the update was delivered, when the recipient reads its entry, then the version and a truncated meta marker', async () => {
    const v2 = await call(h.app, 'GET', `/client/v4/accounts/${R1}/logs/audit?${WINDOW}&action_type=update`, {
      token: TOKENS.r1,
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    const [entry] = v2.body.result;
    const response = entry.resource.response as TruncatedValue;
    assert.equal(response.truncated, true);
    assert.ok(response.bytes > BIG.length);
    assert.ok(response.json_prefix.startsWith('{"resource_version":2,"meta":{'));
  });
});
