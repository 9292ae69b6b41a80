import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, base, call, OWNER, seedShareBody, setup, type Harness } from './helpers.js';
import { writtenRows } from './support/rows.js';

/**
 * Text that is not Unicode (issue 16, finding 6): a JSON body may escape a lone surrogate (`"\udfff"`),
 * which PostgreSQL's jsonb refused with a 500 and SQLite stored as invalid UTF-8. Every such string is a
 * 400 pointing at it, on both stores, and nothing is written.
 */

const LONE = 'Text is not valid Unicode (lone surrogate)';

/** Sends `json` exactly as written: the escapes arrive as text and are only decoded by the parser. */
const sendRaw = (h: Harness, method: 'POST' | 'PUT', url: string, json: string) =>
  call(h.app, method, url, { body: json, headers: { 'content-type': 'application/json' } });

/** A create body as JSON text, with `patch` (JSON text) merged in at the top level. */
const createText = (patch: string) => `{${JSON.stringify(seedShareBody()).slice(1, -1)},${patch}}`;

describe('lone surrogates are refused on every body field', () => {
  let h: Harness;
  let shareId: string;
  let resourceId: string;
  before(async () => {
    h = await setup();
    const res = await call(h.app, 'POST', base(), { body: { ...seedShareBody(), tags: { env: 'prod' } } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    shareId = res.body.result.id;
    const resources = await call(h.app, 'GET', `${base()}/${shareId}/resources`);
    resourceId = resources.body.result[0].id;
  });
  after(() => h.close());

  const refusals: [string, 'POST' | 'PUT', () => string, string, string][] = [
    ['a share name', 'POST', () => base(), createText('"name":"rule \\udfff"'), '/name'],
    ['a tag value', 'POST', () => base(), createText('"tags":{"k":"v\\ud800"}'), '/tags/k'],
    ['a tag key', 'POST', () => base(), createText('"tags":{"k\\udc00/":"v"}'), '/tags/k\udc00~1'],
    [
      'a nested meta key',
      'POST',
      () => `${base()}/${shareId}/resources`,
      `{"resource_account_id":"${OWNER}","resource_id":"r2","resource_type":"custom-ruleset","meta":{"a":{"b\\udfff":1}}}`,
      '/meta/a/b\udfff',
    ],
    [
      'a nested meta value',
      'PUT',
      () => `${base()}/${shareId}/resources/${resourceId}`,
      '{"meta":{"a":{"b":["ok","x\\ud83d"]}}}',
      '/meta/a/b/1',
    ],
    ['an updated share name', 'PUT', () => `${base()}/${shareId}`, '{"name":"\\ude00 renamed"}', '/name'],
    [
      'a meta value in a create',
      'POST',
      () => base(),
      `{"name":"n","recipients":[],"resources":[{"resource_account_id":"${OWNER}","resource_id":"r3","resource_type":"custom-ruleset","meta":{"a":{"b":"\\udfff"}}}]}`,
      '/resources/0/meta/a/b',
    ],
  ];
  for (const [what, method, url, json, pointer] of refusals) {
    test(`${method} given a lone surrogate in ${what}, when sent, then 400 1400 pointing at it and nothing written`, async () => {
      const before = await writtenRows(h);
      const share = await call(h.app, 'GET', `${base()}/${shareId}?include_resources=true`);
      assertError(await sendRaw(h, method, url(), json), 400, 1400, LONE, pointer);
      assert.deepEqual(await writtenRows(h), before);
      assert.deepEqual(
        (await call(h.app, 'GET', `${base()}/${shareId}?include_resources=true`)).body,
        share.body,
      );
    });
  }

  test('POST given a surrogate pair (an emoji) in the name, a tag and meta, when creating, then stored and read back unchanged', async () => {
    const res = await sendRaw(
      h,
      'POST',
      base(),
      `{"name":"smile \\ud83d\\ude00","recipients":[],"tags":{"\\ud83d\\ude00":"\\ud83d\\ude00"},"resources":[{"resource_account_id":"${OWNER}","resource_id":"r4","resource_type":"custom-ruleset","meta":{"\\ud83d\\ude00":["\\ud83d\\ude00"]}}]}`,
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const got = await call(h.app, 'GET', `${base()}/${res.body.result.id}?include_resources=true`);
    assert.equal(got.body.result.name, 'smile 😀');
    assert.deepEqual(got.body.result.tags, { '😀': '😀' });
    assert.deepEqual(got.body.result.resources[0].meta, { '😀': ['😀'] });
  });
});
