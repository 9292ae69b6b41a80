import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertError,
  base,
  call,
  ORG,
  OWNER,
  R1,
  seedShareBody,
  setup,
  TOKENS,
  type Harness,
} from './helpers.js';

const TOTAL = 45;
const orgBase = `/client/v4/organizations/${ORG}/shares`;

type Json = Record<string, unknown>;

async function page(h: Harness, query: string, url = base(), token?: string) {
  const res = await call(h.app, 'GET', `${url}${query}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.success, true);
  assert.deepEqual(res.body.errors, []);
  assert.deepEqual(res.body.messages, []);
  return { ids: res.body.result.map((s: Json) => s.id) as string[], info: res.body.result_info as Json };
}

describe('GET /accounts/{account_id}/shares: pagination over 45 shares', () => {
  let h: Harness;
  /** Share ids in creation order. */
  const ids: string[] = [];
  before(async () => {
    h = await setup();
    for (let i = 0; i < TOTAL; i++) {
      h.clock.advance(1);
      const res = await call(h.app, 'POST', base(), {
        body: { ...seedShareBody(), name: `share ${String(i).padStart(2, '0')}` },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.result.id);
    }
    assert.equal(new Set(ids).size, TOTAL);
  });
  after(async () => {
    await h.close();
  });

  test('GET /shares: given neither page nor per_page, when listing, then the first 20 with full result_info', async () => {
    const first = await page(h, '');
    assert.deepEqual(first.ids, ids.slice(0, 20));
    assert.deepEqual(first.info, { page: 1, per_page: 20, count: 20, total_count: 45, total_pages: 3 });
  });

  test('GET /shares: given page alone, when listing, then pages of 20', async () => {
    const second = await page(h, '?page=2');
    assert.deepEqual(second.ids, ids.slice(20, 40));
    assert.deepEqual(second.info, { page: 2, per_page: 20, count: 20, total_count: 45, total_pages: 3 });
    const third = await page(h, '?page=3');
    assert.deepEqual(third.ids, ids.slice(40));
    assert.deepEqual(third.info, { page: 3, per_page: 20, count: 5, total_count: 45, total_pages: 3 });
  });

  test('GET /shares: given per_page alone, when listing, then page 1 of that size', async () => {
    const res = await page(h, '?per_page=7');
    assert.deepEqual(res.ids, ids.slice(0, 7));
    assert.deepEqual(res.info, { page: 1, per_page: 7, count: 7, total_count: 45, total_pages: 7 });
  });

  test('GET /shares: given per_page=7, when reading pages 1 to 7, then consecutive slices ending with 3', async () => {
    for (let p = 1; p <= 7; p++) {
      const res = await page(h, `?page=${p}&per_page=7`);
      const expected = ids.slice((p - 1) * 7, p * 7);
      assert.deepEqual(res.ids, expected, `page ${p}`);
      assert.deepEqual(res.info, {
        page: p,
        per_page: 7,
        count: expected.length,
        total_count: 45,
        total_pages: 7,
      });
    }
  });

  test('GET /shares: given per_page=100, when listing, then all 45 on one page', async () => {
    const res = await page(h, '?per_page=100');
    assert.deepEqual(res.ids, ids);
    assert.deepEqual(res.info, { page: 1, per_page: 100, count: 45, total_count: 45, total_pages: 1 });
  });

  test('GET /shares: given a page past the end, when listing, then 200 with an empty result and true totals', async () => {
    const res = await call(h.app, 'GET', `${base()}?page=4`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      success: true,
      errors: [],
      messages: [],
      result: [],
      result_info: { page: 4, per_page: 20, count: 0, total_count: 45, total_pages: 3 },
    });
    const far = await page(h, '?page=1000&per_page=7');
    assert.deepEqual(far.ids, []);
    assert.deepEqual(far.info, { page: 1000, per_page: 7, count: 0, total_count: 45, total_pages: 7 });
  });

  const invalid: [query: string, message: string, pointer: string][] = [
    ['?per_page=0', 'per_page must be at least 1', '/query/per_page'],
    ['?per_page=101', 'per_page must be at most 100', '/query/per_page'],
    ['?per_page=-5', 'per_page must be at least 1', '/query/per_page'],
    ['?per_page=ten', 'per_page must be an integer', '/query/per_page'],
    ['?per_page=2.5', 'per_page must be an integer', '/query/per_page'],
    ['?page=0', 'page must be at least 1', '/query/page'],
    ['?page=-1&per_page=10', 'page must be at least 1', '/query/page'],
    ['?page=abc', 'page must be an integer', '/query/page'],
    ['?page=1.5', 'page must be an integer', '/query/page'],
  ];
  for (const [query, message, pointer] of invalid) {
    test(`GET /shares: given ${query.slice(1)}, when listing, then 400 pointing at ${pointer}`, async () => {
      assertError(await call(h.app, 'GET', `${base()}${query}`), 400, 1400, message, pointer);
    });
  }

  /** Walks pages as the SDK's auto-pagination does: ask for page+1 until a page comes back empty. */
  async function walk(
    query: string,
    url = base(),
    token?: string,
  ): Promise<{ seen: string[]; requests: number }> {
    const seen: string[] = [];
    let requests = 0;
    for (let p = 1; p <= 50; p++) {
      requests++;
      const res = await page(h, `?page=${p}${query}`, url, token);
      if (res.ids.length === 0) return { seen, requests };
      seen.push(...res.ids);
    }
    assert.fail('pagination never ended');
  }

  test('GET /shares: given the SDK walk without per_page, when paging until empty, then all 45 exactly once', async () => {
    const { seen, requests } = await walk('');
    assert.deepEqual(seen, ids);
    assert.equal(new Set(seen).size, TOTAL);
    assert.equal(requests, 4);
  });

  test('GET /shares: given the SDK walk with per_page=10, when paging until empty, then all 45 exactly once', async () => {
    const { seen, requests } = await walk('&per_page=10');
    assert.deepEqual(seen, ids);
    assert.equal(requests, 6);
  });

  test('GET /shares: given the walk in descending order, when paging until empty, then all 45 reversed', async () => {
    const { seen } = await walk('&per_page=8&direction=desc');
    assert.deepEqual(seen, [...ids].reverse());
  });

  test('GET /shares: given order=name, when paging, then name order across pages', async () => {
    // Names were zero-padded in creation order, so name order equals creation order.
    const { seen } = await walk('&per_page=6&order=name');
    assert.deepEqual(seen, ids);
  });

  test('GET /shares: given a filter, when paging, then totals count only matching shares', async () => {
    const res = await page(h, '?kind=received&per_page=5');
    assert.deepEqual(res.ids, []);
    assert.deepEqual(res.info, { page: 1, per_page: 5, count: 0, total_count: 0, total_pages: 0 });
    // R1 receives all 45.
    const r1 = await page(h, '?page=3&per_page=20', base(R1), TOKENS.r1);
    assert.deepEqual(r1.ids, ids.slice(40));
    assert.deepEqual(r1.info, { page: 3, per_page: 20, count: 5, total_count: 45, total_pages: 3 });
  });

  test('GET /organizations/{id}/shares: given the SDK walk, when paging until empty, then all 45 exactly once', async () => {
    const first = await page(h, '', orgBase, TOKENS.org);
    assert.deepEqual(first.info, { page: 1, per_page: 20, count: 20, total_count: 45, total_pages: 3 });
    const { seen } = await walk('', orgBase, TOKENS.org);
    assert.deepEqual(seen, ids);
    assertError(
      await call(h.app, 'GET', `${orgBase}?page=0`, { token: TOKENS.org }),
      400,
      1400,
      'page must be at least 1',
      '/query/page',
    );
  });
});

describe('GET /accounts/{account_id}/shares: ordering ties', () => {
  let h: Harness;
  // Inserted out of id order, all with the same created timestamp and name.
  const tied = [
    '0000000000000000000000000000fff3',
    '0000000000000000000000000000fff1',
    '0000000000000000000000000000fff2',
  ];
  let early: string;
  before(async () => {
    h = await setup();
    const res = await call(h.app, 'POST', base(), { body: seedShareBody() });
    assert.equal(res.status, 201);
    early = res.body.result.id;
    h.clock.advance(1000);
    const created = h.clock.timestamp();
    for (const id of tied) {
      await h.store.shares.create({
        share: {
          id,
          account_id: OWNER,
          organization_id: ORG,
          name: 'same',
          target_type: 'account',
          status: 'active',
          created,
          modified: created,
        },
        tags: {},
        recipients: [],
        resources: [],
      });
    }
  });
  after(async () => {
    await h.close();
  });

  test('GET /shares: given shares created at the same instant, when paging one by one, then ordered by id', async () => {
    const sorted = [...tied].sort();
    const seen: string[] = [];
    for (let p = 1; p <= 4; p++) seen.push(...(await page(h, `?page=${p}&per_page=1`)).ids);
    assert.deepEqual(seen, [early, ...sorted]);
    const desc: string[] = [];
    for (let p = 1; p <= 4; p++) desc.push(...(await page(h, `?page=${p}&per_page=1&direction=desc`)).ids);
    assert.deepEqual(desc, [...sorted].reverse().concat(early));
  });

  test('GET /shares: given equal names, when ordering by name, then ties fall back to created then id', async () => {
    const res = await page(h, '?order=name&per_page=2&page=1');
    // "My Shared WAF Managed Rule" sorts before "same".
    assert.deepEqual(res.ids, [early, [...tied].sort()[0]]);
    const rest = await page(h, '?order=name&per_page=2&page=2');
    assert.deepEqual(rest.ids, [...tied].sort().slice(1));
    assert.deepEqual(rest.info, { page: 2, per_page: 2, count: 2, total_count: 4, total_pages: 2 });
  });
});
