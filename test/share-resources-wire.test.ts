import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call, hexId, ORG, OWNER, R1, setup, TOKENS, type Harness } from './helpers.js';

/**
 * A share's resources are built by the database in the API's shape and passed on as they are: the share
 * answers (get and list, `include_resources=true`) must show each one byte for byte as the resource's own
 * endpoint does, on either store, whatever its meta holds.
 */

/** Meta values whose text a careless copy or re-serialisation would change. */
const TRICKY_META: Record<string, unknown>[] = [
  {
    unicode: 'caf\u00e9 \u6f22\u5b57 \ud83d\ude80 \u2028\u2029',
    quotes: 'say "hi" \\ back\\slash \'single\'',
    control: 'tab\tnew\nline\u0001',
    big: 1e21,
    negativeZero: -0,
    small: 1e-7,
    precise: 0.1 + 0.2,
    integer: 2 ** 64,
  },
  { nested: { list: [1, 'two', { three: [null, true, false] }], empty: {}, none: [] }, a: 'short key' },
  {},
];

const resourceBody = (i: number, meta: Record<string, unknown>) => ({
  resource_id: hexId(i + 1, 'e'),
  resource_type: 'custom-ruleset',
  resource_account_id: OWNER,
  meta,
});

/** The `result` text of a single object's envelope (where `result` comes last), as sent. */
function resultText(body: string): string {
  const key = '"result":';
  assert.ok(body.endsWith('}}') && body.indexOf(key) > 0, body.slice(0, 80));
  return body.slice(body.indexOf(key) + key.length, -1);
}

async function inject(h: Harness, url: string): Promise<string> {
  const res = await h.app.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${TOKENS.owner}` },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.body;
}

describe('share resources on the wire: the share answers show them as the resource endpoint does', () => {
  let h: Harness;
  let shareId: string;
  /** Each resource's text from `GET …/resources/:id`, oldest first. */
  let expected: string[];

  before(async () => {
    h = await setup();
    const created = await call(h.app, 'POST', base(), {
      body: {
        name: 'tricky meta',
        recipients: [{ recipient_account_id: R1 }],
        resources: TRICKY_META.map((meta, i) => resourceBody(i, meta)),
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    shareId = created.body.result.id as string;
    const list = JSON.parse(await inject(h, `${base()}/${shareId}/resources`)) as {
      result: { id: string }[];
    };
    expected = [];
    for (const r of list.result)
      expected.push(resultText(await inject(h, `${base()}/${shareId}/resources/${r.id}`)));
  });
  after(() => h.close());

  test('given meta with unicode, quotes, nesting, 1e21 and -0, when read alone, then its numbers are as JSON writes them', () => {
    assert.equal(expected.length, TRICKY_META.length);
    const first = JSON.parse(expected[0] as string) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), [
      'id',
      'resource_id',
      'resource_type',
      'resource_account_id',
      'meta',
      'status',
      'resource_version',
      'created',
      'modified',
    ]);
    assert.ok((expected[0] as string).includes('"big":1e+21'), expected[0]);
    assert.ok((expected[0] as string).includes('"negativeZero":0'), expected[0]);
    assert.deepEqual(first.meta, JSON.parse(JSON.stringify(TRICKY_META[0])));
  });

  test('given that share, when got with include_resources, then its resources are the same bytes', async () => {
    const body = await inject(h, `${base()}/${shareId}?include_resources=true`);
    assert.ok(body.includes(`"resources":[${expected.join(',')}]`), body);
    assert.ok(!body.includes('"share_id"'), body);
  });

  test('given that share, when listed with include_resources, then its resources are the same bytes', async () => {
    const body = await inject(h, `${base()}?include_resources=true`);
    assert.ok(body.includes(`"resources":[${expected.join(',')}]`), body);
    assert.ok(!body.includes('"share_id"'), body);
  });

  test('given that share, when listed by its organization, then no resources are shown', async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: `/client/v4/organizations/${ORG}/shares`,
      headers: { authorization: `Bearer ${TOKENS.org}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(!res.body.includes('"resources"'), res.body);
  });
});

describe('shares store: a listed share has exactly the detail fields', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
    const created = await call(h.app, 'POST', base(), {
      body: { name: 'one', recipients: [{ recipient_account_id: R1 }], resources: [resourceBody(0, {})] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
  after(() => h.close());

  const DETAIL = [
    'account_id',
    'account_name',
    'created',
    'id',
    'modified',
    'name',
    'organization_id',
    'status',
  ];
  const page = { order: 'created', direction: 'asc', limit: 10, offset: 0 } as const;

  test("given an account's page with resources, when the store lists it, then no page column (total) rides along", async () => {
    const { rows, total } = await h.store.shares.list({
      ...page,
      scope: { accountId: OWNER },
      includeResources: true,
    });
    assert.equal(total, 1);
    assert.deepEqual(
      Object.keys(rows[0] ?? {}).sort(),
      [...DETAIL, 'resources', 'tags', 'target_type'].sort(),
    );
  });

  // Organization pages never carry resources (the API offers none there).
  test("given an organization's page, when the store lists it, then no page column (total) rides along", async () => {
    const { rows, total } = await h.store.shares.list({ ...page, scope: { organizationId: ORG } });
    assert.equal(total, 1);
    assert.deepEqual(Object.keys(rows[0] ?? {}).sort(), [...DETAIL, 'tags', 'target_type'].sort());
  });

  test('given a name-ordered organization page, when the store lists it, then org_seq stays out too', async () => {
    const { rows } = await h.store.shares.list({ ...page, order: 'name', scope: { organizationId: ORG } });
    assert.deepEqual(Object.keys(rows[0] ?? {}).sort(), [...DETAIL, 'tags', 'target_type'].sort());
  });
});
