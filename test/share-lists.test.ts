import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  base,
  call,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  seedShareBody,
  setup,
  TOKENS,
  type Harness,
} from './helpers.js';
import { STORE_KIND } from './support/store.js';

/**
 * Account lists read a table kept by triggers (share_visibility) and organization lists read share
 * numbers: these tests change shares through every API path and check both lists follow.
 */

type Json = Record<string, unknown>;
const orgBase = `/client/v4/organizations/${ORG}/shares`;

async function list(h: Harness, query: string, account = OWNER, token: string = TOKENS.owner) {
  const res = await call(h.app, 'GET', `${base(account)}${query}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return {
    ids: (res.body.result as Json[]).map((s) => s.id as string),
    items: res.body.result as Json[],
    total: (res.body.result_info as Json).total_count as number,
  };
}

async function create(h: Harness, body: Json): Promise<string> {
  h.clock.advance(1);
  const res = await call(h.app, 'POST', base(), { body: { ...seedShareBody(), ...body } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.result.id as string;
}

describe('account share lists follow every change to a share', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h.close();
  });

  test('given a share to R1, when R1 is replaced by R2, then it leaves R1 list and enters R2 list', async () => {
    const id = await create(h, { name: 'moving' });
    assert.ok((await list(h, '?kind=received', R1, TOKENS.r1)).ids.includes(id));
    const put = await call(h.app, 'PUT', `${base()}/${id}/recipients`, {
      body: [{ recipient_account_id: R2 }],
    });
    assert.equal(put.status, 204, JSON.stringify(put.body));
    const r1 = await list(h, '', R1, TOKENS.r1);
    assert.ok(!r1.ids.includes(id));
    const r2 = await list(h, '?kind=received', R2, TOKENS.r2);
    assert.ok(r2.ids.includes(id));
    assert.equal(r2.items.find((s) => s.id === id)?.kind, 'received');
  });

  test('given a received share, when the owner renames it, then the recipient list sorts by the new name', async () => {
    const a = await create(h, { name: 'aaa first' });
    const b = await create(h, { name: 'bbb second' });
    const put = await call(h.app, 'PUT', `${base()}/${a}`, { body: { name: 'zzz renamed' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const names = (await list(h, '?kind=received&order=name&direction=desc&per_page=50', R1, TOKENS.r1))
      .items;
    const order = names.map((s) => s.id);
    assert.ok(order.indexOf(a) < order.indexOf(b), 'renamed share sorts first in descending order');
    assert.equal(names.find((s) => s.id === a)?.name, 'zzz renamed');
  });

  test('given a share, when it is deleted, then the owner finds it by status and the recipient no longer lists it', async () => {
    const id = await create(h, { name: 'going away' });
    const del = await call(h.app, 'DELETE', `${base()}/${id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.ok((await list(h, '?status=deleting&per_page=50')).ids.includes(id));
    assert.ok(!(await list(h, '?status=active&per_page=50')).ids.includes(id));
    assert.ok(!(await list(h, '?per_page=50', R1, TOKENS.r1)).ids.includes(id));
  });

  test('given a share, when its tags are replaced, then tag filters on both sides follow', async () => {
    const id = await create(h, { name: 'tagged', tags: { env: 'prod' } });
    assert.deepEqual((await list(h, '?tag=env=prod')).ids, [id]);
    const put = await call(h.app, 'PUT', `${base()}/${id}`, {
      body: { name: 'tagged', tags: { env: 'dev', team: 'a' } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual((await list(h, '?tag=env=prod')).ids, []);
    assert.deepEqual((await list(h, '?tag=env=dev&tag=team', R1, TOKENS.r1)).ids, [id]);
  });

  test('given tag keys whose byte order is not their length order, when the share is listed and read on both sides, then its tags come in byte order of their keys', async () => {
    // Byte order is not UTF-16 order either: an astral character's surrogates sort before U+FF5A there.
    const tags = { zz: '1', b: '2', é: '3', aaa: '4', '😀': '5', ｚ: '6' };
    const id = await create(h, { name: 'key order', tags });
    const order = ['aaa', 'b', 'zz', 'é', 'ｚ', '😀'];
    for (const [account, token] of [
      [OWNER, TOKENS.owner],
      [R1, TOKENS.r1],
    ] as const) {
      for (const query of ['?per_page=50', '?per_page=50&include_resources=true']) {
        const item = (await list(h, query, account, token)).items.find((s) => s.id === id);
        assert.deepEqual(Object.keys((item?.tags ?? {}) as Json), order, `${account} ${query}`);
      }
      const res = await call(h.app, 'GET', `${base(account)}/${id}`, { token });
      assert.deepEqual(Object.keys(res.body.result.tags as Json), order);
    }
  });
});

describe('account share lists: tag filters match whole keys and values only', () => {
  let h: Harness;
  const ids: Record<string, string> = {};
  before(async () => {
    h = await setup();
    const tagSets: Record<string, Record<string, string>> = {
      plain: { env: 'prod' },
      valueLooksLikePair: { note: 'a,"env":"prod"' },
      keyEndsLikeKey: { 'my"env': 'prod' },
      valueIsKey: { other: 'env' },
      prefix: { env: 'production' },
      quoted: { 'k"ey': 'va"l\\ue', ünï: 'ç\n' },
    };
    for (const [name, tags] of Object.entries(tagSets)) ids[name] = await create(h, { name, tags });
  });
  after(async () => {
    await h.close();
  });

  const q = (...filters: string[]) => `?${filters.map((f) => `tag=${encodeURIComponent(f)}`).join('&')}`;

  test('given look-alike tags, when filtering by env=prod, then only the exact pair matches', async () => {
    assert.deepEqual((await list(h, q('env=prod'))).ids, [ids.plain]);
  });

  test('given look-alike tags, when filtering by the key env, then only shares with that key match', async () => {
    assert.deepEqual((await list(h, q('env'))).ids, [ids.plain, ids.prefix]);
  });

  test('given keys and values with quotes, backslashes and non-ASCII, when filtering, then they match exactly', async () => {
    assert.deepEqual((await list(h, q('k"ey=va"l\\ue'))).ids, [ids.quoted]);
    assert.deepEqual((await list(h, q('ünï=ç\n'))).ids, [ids.quoted]);
    assert.deepEqual((await list(h, q('my"env=prod'))).ids, [ids.keyEndsLikeKey]);
    assert.deepEqual((await list(h, q('k"ey=va"l'))).ids, []);
  });
});

describe('organization share list: pages by share number', () => {
  let h: Harness;
  const ids: string[] = [];
  before(async () => {
    h = await setup();
    for (let i = 0; i < 23; i++) ids.push(await create(h, { name: `org share ${i}` }));
    const del = await call(h.app, 'DELETE', `${base()}/${ids[4]}`);
    assert.equal(del.status, 200);
  });
  after(async () => {
    await h.close();
  });

  async function orgPage(query: string) {
    const res = await call(h.app, 'GET', `${orgBase}${query}`, { token: TOKENS.org });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return {
      ids: (res.body.result as Json[]).map((s) => s.id as string),
      total: (res.body.result_info as Json).total_count as number,
    };
  }

  test('given 23 shares, when reading every page in either direction, then creation order and its reverse', async () => {
    for (const [direction, expected] of [
      ['asc', ids],
      ['desc', [...ids].reverse()],
    ] as const) {
      const seen: string[] = [];
      for (let p = 1; p <= 5; p++) {
        const page = await orgPage(`?direction=${direction}&per_page=5&page=${p}`);
        assert.equal(page.total, 23);
        seen.push(...page.ids);
      }
      assert.deepEqual(seen, expected, direction);
    }
  });

  test('given a page past the end, when listing, then no rows and the exact total', async () => {
    assert.deepEqual(await orgPage('?per_page=5&page=6'), { ids: [], total: 23 });
    assert.deepEqual(await orgPage('?direction=desc&per_page=5&page=9'), { ids: [], total: 23 });
  });

  test('given a filter, when listing, then the filtered rows in the same order', async () => {
    const active = await orgPage('?status=active&per_page=50');
    assert.deepEqual(
      active.ids,
      ids.filter((_, i) => i !== 4),
    );
    assert.equal(active.total, 22);
    const byName = await orgPage('?order=name&direction=desc&per_page=3');
    assert.deepEqual(byName.ids, [ids[9], ids[8], ids[7]]);
  });
});

describe('organization share list: numbers taken at commit', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h.close();
  });

  test('given 20 creates in flight at once, when they have all answered, then every share is on the organization pages once, numbered without a gap', async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await call(h.app, 'POST', base(), { body: { ...seedShareBody(), name: `at once ${i}` } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body.result.id as string;
      }),
    );
    const seen: string[] = [];
    for (let p = 1; p <= 4; p++) {
      const res = await call(h.app, 'GET', `${orgBase}?per_page=5&page=${p}`, { token: TOKENS.org });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((res.body.result_info as Json).total_count, 20);
      seen.push(...(res.body.result as Json[]).map((s) => s.id as string));
    }
    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  test(
    'given two creates open at once in one organization, when the later one commits first, then neither waited for the other and the numbers follow commit order',
    { skip: STORE_KIND === 'sqlite' ? 'SQLite has one writer at a time' : false },
    async () => {
      const before = await h.sql(`SELECT share_count FROM organizations WHERE id = $1`, ORG);
      const n = Number(before[0]?.share_count);
      const insert = `INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified)
        VALUES ($1, $2, $3, $4, 'account', 'active', now(), now())`;
      const [first, second] = [hexId(901, 'e'), hexId(902, 'e')];
      const clients = [new pg.Client(h.databaseUrl), new pg.Client(h.databaseUrl)];
      try {
        for (const [i, c] of clients.entries()) {
          await c.connect();
          // A wait for the other's lock becomes an error instead of a hang.
          await c.query(`SET lock_timeout = '5s'`);
          await c.query('BEGIN');
          await c.query(insert, [[first, second][i], OWNER, ORG, `open ${i}`]);
        }
        await clients[1]?.query('COMMIT');
        await clients[0]?.query('COMMIT');
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
      const rows = await h.sql(`SELECT id, org_seq FROM shares WHERE id = ANY($1) ORDER BY org_seq`, [
        first,
        second,
      ]);
      assert.deepEqual(
        rows.map((r) => [r.id, Number(r.org_seq)]),
        [
          [second, n + 1],
          [first, n + 2],
        ],
      );
      const after = await h.sql(`SELECT share_count FROM organizations WHERE id = $1`, ORG);
      assert.equal(Number(after[0]?.share_count), n + 2);
    },
  );
});
