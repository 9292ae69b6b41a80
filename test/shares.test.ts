import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertError,
  assertErrors,
  base,
  call,
  hexId,
  LONER,
  ORG,
  OTHER_ORG,
  OWNER,
  R1,
  R2,
  R3,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  type Harness,
  type Reply,
  TIMESTAMP,
  ID,
  fanOut,
  routeErrors,
} from './helpers.js';
import { addR3Token, R3_TOKEN, recipientList } from './support/shares.js';
import { assertOnePage } from './support/assert.js';
import { writtenRows } from './support/rows.js';

const RESOURCE_TYPE_ENUM =
  'custom-ruleset, gateway-policy, gateway-destination-ip, gateway-block-page-settings, gateway-extended-email-matching, idp-federation-grant, trust-grant';
const NOT_MEMBER = (id: string) => `Account ${id} is not a member of the share owner's organization`;
const MIXED = 'A share targets either specific accounts or the whole organization; do not mix the two';
const DELETING = 'The share is deleting and can no longer be changed';
/** Known gap, reported to the lead: the body is validated with the query's type coercion. */
const orgBase = (org = ORG) => `/client/v4/organizations/${org}/shares`;

type Json = Record<string, unknown>;

/** The clock's current time as the API formats a fresh timestamp (after `advance`, the micro digits are 000). */
const clockStamp = (h: Harness) => new Date(h.clock.now()).toISOString().replace('Z', '000Z');

/** `levels` arrays, one inside the other, around 1. */
const nest = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
};

const resource = (resource_id: string, resource_type = 'custom-ruleset', account = OWNER) => ({
  meta: {},
  resource_account_id: account,
  resource_id,
  resource_type,
});

async function create(
  h: Harness,
  body: unknown = seedShareBody(),
  account = OWNER,
  token?: string,
): Promise<Json> {
  const res = await call(h.app, 'POST', base(account), { body, token });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.success, true);
  // An organization-targeted share's recipients come from the reconciler: derive them as it would.
  if (res.body.result.target_type === 'organization') await fanOut(h, res.body.result.id as string);
  return res.body.result as Json;
}

async function list(h: Harness, query = '', account = OWNER, token?: string): Promise<Reply> {
  const res = await call(h.app, 'GET', `${base(account)}${query}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.success, true);
  assert.deepEqual(res.body.errors, []);
  return res;
}

async function listIds(h: Harness, query = '', account = OWNER, token?: string): Promise<string[]> {
  return (await list(h, query, account, token)).body.result.map((s: Json) => s.id);
}

async function resourcesOf(h: Harness, shareId: string): Promise<Json[]> {
  const res = await call(h.app, 'GET', `${base()}/${shareId}/resources?per_page=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result;
}

/** POSTs a share with `opts`, asserts the refusal `status code message`, and that no share was created. */
async function assertCreateRefused(
  h: Harness,
  status: number,
  code: number,
  message: string,
  opts: Parameters<typeof call>[3],
): Promise<void> {
  const count = async () => (await list(h, '?per_page=100')).body.result_info.total_count;
  const before = await count();
  assertError(await call(h.app, 'POST', base(), opts), status, code, message);
  assert.equal(await count(), before);
}

describe('POST /accounts/{account_id}/shares', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h.close();
  });

  test('POST /shares: given the seed body, when creating, then 201 with an active account-targeted sent share', async () => {
    const res = await call(h.app, 'POST', base(), { body: seedShareBody() });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.errors, []);
    assert.deepEqual(res.body.messages, []);
    assert.equal(res.body.success, true);
    const share = res.body.result;
    assert.match(share.id, ID);
    assert.match(share.created, TIMESTAMP);
    assert.deepEqual(share, {
      id: share.id,
      name: 'My Shared WAF Managed Rule',
      account_id: OWNER,
      account_name: 'Acme Owner',
      organization_id: ORG,
      created: share.created,
      modified: share.created,
      status: 'active',
      target_type: 'account',
      kind: 'sent',
      tags: {},
    });

    const recipients = await recipientList<Json>(h.app, share.id);
    assert.equal(recipients.length, 1);
    const [r] = recipients as [Json];
    assert.match(String(r.id), ID);
    assert.deepEqual(r, {
      id: r.id,
      account_id: R1,
      association_status: 'associating',
      created: r.created,
      modified: r.created,
    });
    // Rows created by one request get their own, later timestamps, so lists keep request order.
    assert.ok(String(r.created) > share.created);

    const resources = await resourcesOf(h, share.id);
    assert.equal(resources.length, 1);
    const [rs] = resources as [Json];
    assert.match(String(rs.id), ID);
    assert.deepEqual(rs, {
      id: rs.id,
      resource_id: '023e105f4ecef8ad9ca31a8372d0c353',
      resource_type: 'custom-ruleset',
      resource_account_id: OWNER,
      meta: {},
      status: 'active',
      resource_version: 1,
      created: rs.created,
      modified: rs.created,
    });
    assert.ok(String(rs.created) > String(r.created));

    // The share is listed and fetched exactly as created.
    const fetched = await call(h.app, 'GET', `${base()}/${share.id}`);
    assert.deepEqual(fetched.body.result, share);
    assert.ok((await listIds(h)).includes(share.id));
  });

  test('POST /shares: given the deprecated account_id alias, when creating, then the account becomes a recipient', async () => {
    const share = await create(h, { ...seedShareBody(), recipients: [{ account_id: R2 }] });
    assert.equal(share.target_type, 'account');
    const recipients = await recipientList<Json>(h.app, String(share.id));
    assert.deepEqual(
      recipients.map((r) => [r.account_id, r.association_status]),
      [[R2, 'associating']],
    );
  });

  test('POST /shares: given both field names naming the same account, when creating, then it is one recipient', async () => {
    const share = await create(h, {
      ...seedShareBody(),
      recipients: [{ recipient_account_id: R3, account_id: R3 }],
    });
    assert.deepEqual(
      (await recipientList<Json>(h.app, String(share.id))).map((r) => r.account_id),
      [R3],
    );
  });

  for (const [given, recipients] of [
    ['an empty recipient item', [{}]],
    ['the owner organization_id', [{ organization_id: ORG }]],
  ] as const) {
    test(`POST /shares: given ${given}, when creating, then an organization share reaching every other account`, async () => {
      const share = await create(h, { ...seedShareBody(), recipients });
      assert.equal(share.target_type, 'organization');
      assert.equal(share.organization_id, ORG);
      assert.equal(share.status, 'active');
      const got = await recipientList<Json>(h.app, String(share.id));
      assert.deepEqual(got.map((r) => r.account_id).sort(), [R1, R2, R3].sort());
      assert.ok(got.every((r) => r.association_status === 'associating'));
    });
  }

  test('POST /shares: given tags, when creating, then the share carries them on create, get and list', async () => {
    const tags = { env: 'production', team: 'edge', expr: 'a=b' };
    const share = await create(h, { ...seedShareBody(), tags });
    assert.deepEqual(share.tags, tags);
    const got = await call(h.app, 'GET', `${base()}/${share.id}`);
    assert.deepEqual(got.body.result.tags, tags);
    const listed = (await list(h, '?per_page=100')).body.result.find((s: Json) => s.id === share.id);
    assert.deepEqual(listed.tags, tags);
  });

  test('POST /shares: given a tag key with a line break, when creating, then the tag is kept on create and get', async () => {
    const share = await create(h, { ...seedShareBody(), tags: { 'a\nb': 'v', 'c\u2028d': 'w' } });
    assert.deepEqual(share.tags, { 'a\nb': 'v', 'c\u2028d': 'w' });
    const got = await call(h.app, 'GET', `${base()}/${share.id}`);
    assert.deepEqual(got.body.result.tags, { 'a\nb': 'v', 'c\u2028d': 'w' });
  });

  test('POST /shares: given a resource meta nested 64 levels deep (the limit), when creating, then it is kept', async () => {
    const meta = { a: nest(60) };
    const share = await create(h, { ...seedShareBody(), resources: [{ ...resource('deep'), meta }] });
    const got = await call(h.app, 'GET', `${base()}/${share.id}?include_resources=true`);
    assert.deepEqual(got.body.result.resources[0].meta, meta);
  });

  test('POST /shares: given a 255-character name and one id under two types, when creating, then both are kept', async () => {
    const name = 'n'.repeat(255);
    const share = await create(h, {
      name,
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
      resources: [resource('a'.repeat(32)), resource('a'.repeat(32), 'gateway-policy')],
    });
    assert.equal(share.name, name);
    const types = (await resourcesOf(h, String(share.id))).map((r) => r.resource_type).sort();
    assert.deepEqual(types, ['custom-ruleset', 'gateway-policy']);
    assert.deepEqual((await recipientList<Json>(h.app, String(share.id))).map((r) => r.account_id).sort(), [
      R1,
      R2,
    ]);
  });

  const seed = seedShareBody();
  const { name: _name, ...noName } = seed;
  const { recipients: _recipients, ...noRecipients } = seed;
  const { resources: _resources, ...noResources } = seed;
  const withRecipients = (recipients: unknown) => ({ ...seed, recipients });
  const withResources = (resources: unknown) => ({ ...seed, resources });
  const unknownAccount = hexId(99, 'b');
  const refused: [given: string, body: unknown, message: string, pointer: string, todo?: string][] = [
    ['no name', noName, 'name is required', '/name'],
    ['no recipients', noRecipients, 'recipients is required', '/recipients'],
    ['no resources', noResources, 'resources is required', '/resources'],
    ['an empty name', { ...seed, name: '' }, 'name must not be empty', '/name'],
    ['a blank name', { ...seed, name: '  \t ' }, 'name must not be blank', '/name'],
    [
      'a 256-character name',
      { ...seed, name: 'x'.repeat(256) },
      'name must be at most 255 characters',
      '/name',
    ],
    ['a name that is not a string', { ...seed, name: 7 }, 'name must be a string', '/name'],
    ['recipients that are not an array', withRecipients({}), 'recipients must be an array', '/recipients'],
    [
      'an account then the organization',
      withRecipients([{ recipient_account_id: R1 }, { organization_id: ORG }]),
      MIXED,
      '/recipients/1',
    ],
    [
      'the organization then an account',
      withRecipients([{}, { recipient_account_id: R1 }]),
      MIXED,
      '/recipients/1',
    ],
    [
      'an item naming an account and an organization',
      withRecipients([{ recipient_account_id: R1, organization_id: ORG }]),
      'A recipient names either an account or an organization, not both',
      '/recipients/0',
    ],
    [
      'the organization_id of another organization',
      withRecipients([{ organization_id: OTHER_ORG }]),
      "organization_id must be the share owner's organization",
      '/recipients/0/organization_id',
    ],
    [
      'a recipient outside the organization',
      withRecipients([{ recipient_account_id: R1 }, { recipient_account_id: STRANGER }]),
      NOT_MEMBER(STRANGER),
      '/recipients/1/recipient_account_id',
    ],
    [
      'an unknown recipient account',
      withRecipients([{ recipient_account_id: unknownAccount }]),
      NOT_MEMBER(unknownAccount),
      '/recipients/0/recipient_account_id',
    ],
    [
      'an unknown recipient account through the alias',
      withRecipients([{ account_id: unknownAccount }]),
      NOT_MEMBER(unknownAccount),
      '/recipients/0/account_id',
    ],
    [
      'the owner as recipient',
      withRecipients([{ recipient_account_id: R1 }, { recipient_account_id: OWNER }]),
      'A share cannot be shared with its owner account',
      '/recipients/1/recipient_account_id',
    ],
    [
      'the same recipient twice',
      withRecipients([{ recipient_account_id: R1 }, { account_id: R1 }]),
      `Account ${R1} is listed twice`,
      '/recipients/1/account_id',
    ],
    [
      'both field names naming different accounts',
      withRecipients([{ recipient_account_id: R1, account_id: R2 }]),
      'recipient_account_id and account_id name different accounts; send only recipient_account_id',
      '/recipients/0/account_id',
    ],
    [
      'a 33-character recipient id',
      withRecipients([{ recipient_account_id: 'b'.repeat(33) }]),
      'recipient_account_id must be at most 32 characters',
      '/recipients/0/recipient_account_id',
    ],
    [
      'a 33-character organization id',
      withRecipients([{ organization_id: 'a'.repeat(33) }]),
      'organization_id must be at most 32 characters',
      '/recipients/0/organization_id',
    ],
    [
      'a resource of another account',
      withResources([resource('r1', 'custom-ruleset', R1)]),
      "resource_account_id must be the share owner's account",
      '/resources/0/resource_account_id',
    ],
    [
      'the same resource twice',
      withResources([resource('r1'), resource('r2'), resource('r1')]),
      'Resource custom-ruleset r1 is listed twice',
      '/resources/2/resource_id',
    ],
    [
      'an unknown resource type',
      withResources([resource('r1', 'zone')]),
      `resource_type must be one of: ${RESOURCE_TYPE_ENUM}`,
      '/resources/0/resource_type',
    ],
    [
      'a 33-character resource id',
      withResources([resource('r'.repeat(33))]),
      'resource_id must be at most 32 characters',
      '/resources/0/resource_id',
    ],
    [
      'a 33-character resource account id',
      withResources([resource('r1', 'custom-ruleset', 'b'.repeat(33))]),
      'resource_account_id must be at most 32 characters',
      '/resources/0/resource_account_id',
    ],
    [
      'a resource without meta',
      withResources([{ resource_id: 'r1', resource_type: 'custom-ruleset', resource_account_id: OWNER }]),
      'meta is required',
      '/resources/0/meta',
    ],
    [
      'a tag key with "="',
      { ...seed, tags: { 'env=prod': 'x' } },
      'Tag key "env=prod" must not contain "="',
      '/tags/env=prod',
    ],
    ['an empty tag key', { ...seed, tags: { '': 'x' } }, 'Tag keys must not be empty', '/tags/'],
    [
      'a 257-character tag key',
      { ...seed, tags: { ['k'.repeat(257)]: 'x' } },
      'Tag keys must be at most 256 characters',
      `/tags/${'k'.repeat(257)}`,
    ],
    [
      'a tag key with "/" and "="',
      { ...seed, tags: { 'a/b=c': 'x' } },
      'Tag key "a/b=c" must not contain "="',
      '/tags/a~1b=c',
    ],
    [
      'a 1025-character tag value',
      { ...seed, tags: { env: 'v'.repeat(1025) } },
      'env must be at most 1024 characters',
      '/tags/env',
    ],
    ['a tag value that is not a string', { ...seed, tags: { env: 1 } }, 'env must be a string', '/tags/env'],
    // A line break in the key used to skip the value's schema (the stores got objects: a 500).
    [
      'a tag key with a line break and a value that is not a string',
      { ...seed, tags: { 'a\nb': { x: 1 } } },
      'a\nb must be a string',
      '/tags/a\nb',
    ],
    [
      'a resource meta nested 65 levels deep',
      withResources([{ ...resource('r1'), meta: { a: nest(61) } }]),
      'The body is nested more than 64 levels deep',
      `/resources/0/meta/a${'/0'.repeat(60)}`,
    ],
    [
      '51 tags',
      { ...seed, tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      'tags must have at most 50 entries',
      '/tags',
    ],
  ];
  for (const [given, body, message, pointer, todo] of refused) {
    const title = `POST /shares: given ${given}, when creating, then 400 pointing at ${pointer} and nothing is created`;
    test(title, todo ? { todo } : {}, async () => {
      const before = (await list(h, '?per_page=100')).body.result;
      const res = await call(h.app, 'POST', base(), { body });
      assertError(res, 400, 1400, message, pointer);
      assert.deepEqual((await list(h, '?per_page=100')).body.result, before);
    });
  }

  // Membership is checked where the share is written, the rest of the body before any statement: a body
  // with several problems still gets the first in body order, as when membership was read first.
  const severalProblems: [given: string, body: unknown, message: string, pointer: string][] = [
    [
      'a recipient outside the organization, then a resource of another account',
      {
        ...withRecipients([{ recipient_account_id: STRANGER }]),
        resources: [resource('r1', 'custom-ruleset', R1)],
      },
      NOT_MEMBER(STRANGER),
      '/recipients/0/recipient_account_id',
    ],
    [
      'a recipient outside the organization, then the organization',
      withRecipients([{ recipient_account_id: STRANGER }, { organization_id: ORG }]),
      NOT_MEMBER(STRANGER),
      '/recipients/0/recipient_account_id',
    ],
    [
      'a recipient outside the organization, listed twice',
      withRecipients([{ recipient_account_id: STRANGER }, { account_id: STRANGER }]),
      NOT_MEMBER(STRANGER),
      '/recipients/0/recipient_account_id',
    ],
    [
      'a member, an unknown account, the member again and a resource listed twice',
      {
        ...withRecipients([
          { recipient_account_id: R1 },
          { account_id: unknownAccount },
          { recipient_account_id: R1 },
        ]),
        resources: [resource('r1'), resource('r1')],
      },
      NOT_MEMBER(unknownAccount),
      '/recipients/1/account_id',
    ],
    [
      'an unknown account, then a recipient outside the organization',
      withRecipients([{ recipient_account_id: unknownAccount }, { recipient_account_id: STRANGER }]),
      NOT_MEMBER(unknownAccount),
      '/recipients/0/recipient_account_id',
    ],
    [
      'a recipient outside the organization, then an unknown account',
      withRecipients([{ recipient_account_id: STRANGER }, { recipient_account_id: unknownAccount }]),
      NOT_MEMBER(STRANGER),
      '/recipients/0/recipient_account_id',
    ],
    [
      'an account in no organization, then a member',
      withRecipients([{ recipient_account_id: LONER }, { recipient_account_id: R1 }]),
      NOT_MEMBER(LONER),
      '/recipients/0/recipient_account_id',
    ],
    [
      'the owner, then a recipient outside the organization',
      withRecipients([{ recipient_account_id: OWNER }, { recipient_account_id: STRANGER }]),
      'A share cannot be shared with its owner account',
      '/recipients/0/recipient_account_id',
    ],
    [
      'two field names naming a member and an account outside the organization',
      withRecipients([{ recipient_account_id: R1, account_id: STRANGER }]),
      'recipient_account_id and account_id name different accounts; send only recipient_account_id',
      '/recipients/0/account_id',
    ],
    [
      'a tag key with "=" and a recipient outside the organization',
      { ...withRecipients([{ recipient_account_id: STRANGER }]), tags: { 'a=b': 'c' } },
      'Tag key "a=b" must not contain "="',
      '/tags/a=b',
    ],
  ];
  for (const [given, body, message, pointer] of severalProblems) {
    test(`POST /shares: given ${given}, when creating, then 400 pointing at ${pointer} and no row or audit entry is written`, async () => {
      const before = await writtenRows(h);
      assertError(await call(h.app, 'POST', base(), { body }), 400, 1400, message, pointer);
      assert.deepEqual(await writtenRows(h), before);
    });
  }

  test('POST /shares: given an account in no organization, when creating, then 400 and nothing is created', async () => {
    const res = await call(h.app, 'POST', base(LONER), { token: TOKENS.loner, body: seedShareBody() });
    assertError(
      res,
      400,
      1400,
      'The account does not belong to an organization, so it cannot share',
      '/recipients',
    );
    const after = await list(h, '', LONER, TOKENS.loner);
    assert.deepEqual(after.body.result, []);
    assert.equal(after.body.result_info.total_count, 0);
  });

  test('POST /shares: given malformed JSON, when creating, then 400 code 6007 and nothing is created', async () => {
    await assertCreateRefused(h, 400, 6007, 'Malformed JSON in request body', {
      body: '{"name": "x", "recipients": [',
      headers: { 'content-type': 'application/json' },
    });
  });

  test('POST /shares: given bytes that are not UTF-8 in the name (Latin-1), when creating, then 400 code 6007 and nothing is created', async () => {
    await assertCreateRefused(h, 400, 6007, 'Malformed JSON in request body', {
      body: Buffer.concat([
        Buffer.from('{"name":"caf'),
        Buffer.from([0xe9]),
        Buffer.from(`","recipients":[],"resources":[]}`),
      ]),
      headers: { 'content-type': 'application/json' },
    });
  });

  test('POST /shares: given a body of arrays nested 100,000 levels deep, when creating, then 400 pointing at the 65th level', async () => {
    const res = await call(h.app, 'POST', base(), {
      body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      headers: { 'content-type': 'application/json' },
    });
    assertError(res, 400, 1400, 'The body is nested more than 64 levels deep', '/0'.repeat(64));
  });

  test('POST /shares: given an XML body, when creating, then 415 code 1415 and nothing is created', async () => {
    await assertCreateRefused(
      h,
      415,
      1415,
      'Unsupported Content-Type application/xml; use application/json',
      {
        body: '<share/>',
        headers: { 'content-type': 'application/xml' },
      },
    );
  });

  test('POST /shares: given a text/plain body, when creating, then 415 code 1415', async () => {
    const res = await call(h.app, 'POST', base(), {
      body: JSON.stringify(seedShareBody()),
      headers: { 'content-type': 'text/plain' },
    });
    assertError(res, 415, 1415, 'Unsupported Content-Type text/plain; use application/json');
  });

  test('POST /shares: given a body over 1 MiB, when creating, then 413 code 1413 and nothing is created', async () => {
    await assertCreateRefused(h, 413, 1413, 'Request body is larger than 1048576 bytes', {
      body: JSON.stringify({ ...seedShareBody(), name: 'x'.repeat(1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
  });

  test('POST /shares: given a read-only token, when creating, then 403 code 10000 and nothing is created', async () => {
    await assertCreateRefused(h, 403, 10000, 'Authentication error', {
      token: TOKENS.ownerRead,
      body: seedShareBody(),
    });
  });

  test('POST /shares: given an account outside the token scope, when creating, then 403 code 10000', async () => {
    const res = await call(h.app, 'POST', base(R1), { body: seedShareBody(R2) });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await listIds(h, '?kind=sent', R1, TOKENS.r1), []);
  });
});

describe('GET /accounts/{account_id}/shares/{share_id}', () => {
  let h: Harness;
  let share: Json;
  before(async () => {
    h = await setup();
    await addR3Token(h);
    share = await create(h, {
      ...seedShareBody(),
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
      resources: [resource('rule-1'), resource('policy-1', 'gateway-policy')],
      tags: { env: 'prod' },
    });
  });
  after(async () => {
    await h.close();
  });

  test('GET /shares/{id}: given the owner, when fetching, then the share with kind sent and no extras', async () => {
    const res = await call(h.app, 'GET', `${base()}/${share.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true, errors: [], messages: [], result: share });
    assert.equal(share.kind, 'sent');
    assert.equal('resources' in res.body.result, false);
    assert.equal('associating_recipient_count' in res.body.result, false);
  });

  test('GET /shares/{id}: given a recipient, when fetching under its own account, then the same share with kind received', async () => {
    const res = await call(h.app, 'GET', `${base(R1)}/${share.id}`, { token: TOKENS.r1 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.result, { ...share, kind: 'received' });
  });

  test('GET /shares/{id}: given an account of the organization that is not a recipient, when fetching, then 404', async () => {
    const res = await call(h.app, 'GET', `${base(R3)}/${share.id}`, { token: R3_TOKEN });
    assertError(res, 404, 1404, 'Share not found');
  });

  test('GET /shares/{id}: given a recipient asking under the owner account, when fetching, then 404', async () => {
    const res = await call(h.app, 'GET', `${base(OWNER)}/${share.id}`, { token: TOKENS.r1 });
    assertError(res, 404, 1404, 'Share not found');
  });

  test('GET /shares/{id}: given a stranger, when fetching, then 404 exactly like an unknown share', async () => {
    assertError(
      await call(h.app, 'GET', `${base(STRANGER)}/${share.id}`, { token: TOKENS.stranger }),
      404,
      1404,
      'Share not found',
    );
  });

  test('GET /shares/{id}: given an unknown id, when fetching, then 404 Share not found', async () => {
    assertError(await call(h.app, 'GET', `${base()}/${hexId(12345, 'e')}`), 404, 1404, 'Share not found');
  });

  test('GET /shares/{id}: given a 33-character id, when fetching, then 400 7003 + 7000 naming the path', async () => {
    const url = `${base()}/${'e'.repeat(33)}`;
    assertErrors(await call(h.app, 'GET', url), 400, routeErrors(url));
  });

  test('GET /shares/{id}: given include_resources, when fetching, then the share lists its resources', async () => {
    const res = await call(h.app, 'GET', `${base()}/${share.id}?include_resources=true`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { resources, ...rest } = res.body.result;
    assert.deepEqual(rest, share);
    assert.deepEqual(resources, await resourcesOf(h, String(share.id)));
    // Resources created together share a timestamp and are then ordered by id, so compare sorted.
    assert.deepEqual(
      resources.map((r: Json) => [r.resource_id, r.resource_type, r.status, r.resource_version]).sort(),
      [
        ['policy-1', 'gateway-policy', 'active', 1],
        ['rule-1', 'custom-ruleset', 'active', 1],
      ],
    );
    // A recipient sees the resources too.
    const received = await call(h.app, 'GET', `${base(R1)}/${share.id}?include_resources=true`, {
      token: TOKENS.r1,
    });
    assert.deepEqual(received.body.result.resources, resources);
  });

  test('GET /shares/{id}: given include_resources=false, when fetching, then no resources field', async () => {
    const res = await call(h.app, 'GET', `${base()}/${share.id}?include_resources=false`);
    assert.deepEqual(res.body.result, share);
  });

  test('GET /shares/{id}: given include_resources=maybe, when fetching, then 400 pointing at the query parameter', async () => {
    const res = await call(h.app, 'GET', `${base()}/${share.id}?include_resources=maybe`);
    assertError(res, 400, 1400, 'include_resources must be a boolean', '/query/include_resources');
  });

  test('GET /shares/{id}: given include_recipient_counts, when a recipient is deleted, then the counts follow', async () => {
    const counts = async () => {
      const res = await call(h.app, 'GET', `${base()}/${share.id}?include_recipient_counts=true`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const {
        associating_recipient_count,
        associated_recipient_count,
        disassociating_recipient_count,
        disassociated_recipient_count,
        ...rest
      } = res.body.result;
      assert.deepEqual(rest, share);
      return [
        associating_recipient_count,
        associated_recipient_count,
        disassociating_recipient_count,
        disassociated_recipient_count,
      ];
    };
    assert.deepEqual(await counts(), [2, 0, 0, 0]);

    const r2 = (await recipientList<Json>(h.app, String(share.id))).find((r) => r.account_id === R2) as Json;
    const del = await call(h.app, 'DELETE', `${base()}/${share.id}/recipients/${r2.id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal(del.body.result.association_status, 'disassociating');

    assert.deepEqual(await counts(), [1, 0, 1, 0]);
    // Both includes at once.
    const both = await call(
      h.app,
      'GET',
      `${base()}/${share.id}?include_recipient_counts=true&include_resources=true`,
    );
    assert.equal(both.body.result.resources.length, 2);
    assert.equal(both.body.result.associating_recipient_count, 1);
    assert.equal(both.body.result.disassociating_recipient_count, 1);
    // R2 no longer receives the share.
    assertError(
      await call(h.app, 'GET', `${base(R2)}/${share.id}`, { token: TOKENS.r2 }),
      404,
      1404,
      'Share not found',
    );
  });
});

describe('GET /accounts/{account_id}/shares', () => {
  let h: Harness;
  // A: OWNER -> R1; B: OWNER -> organization; C: OWNER -> R2, then deleted; D: R1 -> OWNER.
  let A: string, B: string, C: string, D: string;
  before(async () => {
    h = await setup();
    await addR3Token(h);
    const make = async (body: unknown, account = OWNER, token?: string) => {
      h.clock.advance(1000);
      return String((await create(h, body, account, token)).id);
    };
    A = await make({
      name: 'bravo',
      recipients: [{ recipient_account_id: R1 }],
      resources: [resource('a1')],
      tags: { env: 'prod', team: 'a', expr: 'x=y' },
    });
    B = await make({
      name: 'alpha',
      recipients: [{}],
      resources: [resource('b1', 'gateway-policy')],
      tags: { env: 'dev' },
    });
    C = await make({
      name: 'charlie',
      recipients: [{ recipient_account_id: R2 }],
      resources: [resource('c1'), resource('c2', 'gateway-destination-ip')],
      tags: { team: 'a' },
    });
    D = await make(
      {
        name: 'delta',
        recipients: [{ recipient_account_id: OWNER }],
        resources: [resource('d1', 'custom-ruleset', R1)],
        tags: { env: 'prod' },
      },
      R1,
      TOKENS.r1,
    );
    h.clock.advance(1000);
    const del = await call(h.app, 'DELETE', `${base()}/${C}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
  });
  after(async () => {
    await h.close();
  });

  test('GET /shares: given sent and received shares, when listing, then both in created order with their kind', async () => {
    const res = await list(h);
    assert.deepEqual(
      res.body.result.map((s: Json) => [s.id, s.kind, s.status, s.target_type, s.account_id]),
      [
        [A, 'sent', 'active', 'account', OWNER],
        [B, 'sent', 'active', 'organization', OWNER],
        [C, 'sent', 'deleting', 'account', OWNER],
        [D, 'received', 'active', 'account', R1],
      ],
    );
    const d = res.body.result[3];
    assert.equal(d.account_name, 'Acme R1');
    assert.deepEqual(d.tags, { env: 'prod' });
    assertOnePage(res, 4);
    for (const s of res.body.result) {
      assert.equal('resources' in s, false);
      assert.equal('associating_recipient_count' in s, false);
    }
  });

  test('GET /shares: given a status filter, when listing, then only shares in that status', async () => {
    assert.deepEqual(await listIds(h, '?status=active'), [A, B, D]);
    assert.deepEqual(await listIds(h, '?status=deleting'), [C]);
    assert.deepEqual(await listIds(h, '?status=deleted'), []);
    assertError(
      await call(h.app, 'GET', `${base()}?status=gone`),
      400,
      1400,
      'status must be one of: active, deleting, deleted',
      '/query/status',
    );
  });

  test('GET /shares: given a kind filter, when listing, then only sent or only received shares', async () => {
    assert.deepEqual(await listIds(h, '?kind=sent'), [A, B, C]);
    assert.deepEqual(await listIds(h, '?kind=received'), [D]);
    assert.deepEqual(await listIds(h, '?kind=sent', R1, TOKENS.r1), [D]);
    assert.deepEqual(await listIds(h, '?kind=received', R1, TOKENS.r1), [A, B]);
    assertError(
      await call(h.app, 'GET', `${base()}?kind=both`),
      400,
      1400,
      'kind must be one of: sent, received',
      '/query/kind',
    );
  });

  test('GET /shares: given a target_type filter, when listing, then only that target', async () => {
    assert.deepEqual(await listIds(h, '?target_type=organization'), [B]);
    assert.deepEqual(await listIds(h, '?target_type=account'), [A, C, D]);
    assertError(
      await call(h.app, 'GET', `${base()}?target_type=user`),
      400,
      1400,
      'target_type must be one of: account, organization',
      '/query/target_type',
    );
  });

  test('GET /shares: given resource_types, when listing, then shares holding any of the types', async () => {
    assert.deepEqual(await listIds(h, '?resource_types=gateway-policy'), [B]);
    assert.deepEqual(await listIds(h, '?resource_types=custom-ruleset'), [A, C, D]);
    assert.deepEqual(
      await listIds(h, '?resource_types=gateway-policy&resource_types=gateway-destination-ip'),
      [B, C],
    );
    assert.deepEqual(await listIds(h, '?resource_types=idp-federation-grant'), []);
    assert.deepEqual(await listIds(h, '?resource_types=gateway-policy&kind=sent&target_type=account'), []);
    assertError(
      await call(h.app, 'GET', `${base()}?resource_types=gateway-policy&resource_types=zone`),
      400,
      1400,
      `resource_types[1] must be one of: ${RESOURCE_TYPE_ENUM}`,
      '/query/resource_types/1',
    );
  });

  test('GET /shares: given tag filters, when listing, then key and key=value filters are ANDed', async () => {
    assert.deepEqual(await listIds(h, '?tag=env'), [A, B, D]);
    assert.deepEqual(await listIds(h, '?tag=env=prod'), [A, D]);
    assert.deepEqual(await listIds(h, `?tag=${encodeURIComponent('env=prod')}`), [A, D]);
    assert.deepEqual(await listIds(h, '?tag=env=prod&tag=team'), [A]);
    assert.deepEqual(await listIds(h, '?tag=team=a&tag=env=dev'), []);
    assert.deepEqual(await listIds(h, '?tag=team=a'), [A, C]);
    assert.deepEqual(await listIds(h, '?tag=env='), []);
    assert.deepEqual(await listIds(h, '?tag=missing'), []);
    // The value is everything after the first "=".
    assert.deepEqual(await listIds(h, `?tag=${encodeURIComponent('expr=x=y')}`), [A]);
    assert.deepEqual(await listIds(h, '?tag=env=prod&kind=received'), [D]);
  });

  test('GET /shares: given 20 tag filters, when listing, then 200; given 21, then 400 pointing at /query/tag', async () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `tag=k${i}`).join('&');
    assert.deepEqual(await listIds(h, `?${tags(20)}`), []);
    assertError(
      await call(h.app, 'GET', `${base()}?${tags(21)}`),
      400,
      1400,
      'tag must have at most 20 items',
      '/query/tag',
    );
  });

  test('GET /shares: given a tag filter without a key, when listing, then 400 pointing at that tag', async () => {
    assertError(
      await call(h.app, 'GET', `${base()}?tag=env&tag=${encodeURIComponent('=prod')}`),
      400,
      1400,
      'tag[1] must start with a key',
      '/query/tag/1',
    );
    assertError(
      await call(h.app, 'GET', `${base()}?tag=`),
      400,
      1400,
      'tag[0] must not be empty',
      '/query/tag/0',
    );
  });

  test('GET /shares: given order and direction, when listing, then sorted accordingly', async () => {
    assert.deepEqual(await listIds(h, '?order=name'), [B, A, C, D]);
    assert.deepEqual(await listIds(h, '?order=name&direction=asc'), [B, A, C, D]);
    assert.deepEqual(await listIds(h, '?order=name&direction=desc'), [D, C, A, B]);
    assert.deepEqual(await listIds(h, '?order=created&direction=desc'), [D, C, B, A]);
    assert.deepEqual(await listIds(h, '?direction=desc'), [D, C, B, A]);
    assert.deepEqual(await listIds(h, '?order=created'), [A, B, C, D]);
    assertError(
      await call(h.app, 'GET', `${base()}?order=modified`),
      400,
      1400,
      'order must be one of: name, created',
      '/query/order',
    );
    assertError(
      await call(h.app, 'GET', `${base()}?direction=up`),
      400,
      1400,
      'direction must be one of: asc, desc',
      '/query/direction',
    );
  });

  test('GET /shares: given include_resources, when listing, then each share lists its resources', async () => {
    const res = await list(h, '?include_resources=true');
    const byId = new Map<string, Json>(res.body.result.map((s: Json) => [s.id, s]));
    const summary = (id: string) =>
      ((byId.get(id) as Json).resources as Json[])
        .map((r) => [r.resource_id, r.resource_type, r.status])
        .sort();
    assert.deepEqual(summary(A), [['a1', 'custom-ruleset', 'active']]);
    assert.deepEqual(summary(B), [['b1', 'gateway-policy', 'active']]);
    assert.deepEqual(summary(C), [
      ['c1', 'custom-ruleset', 'deleting'],
      ['c2', 'gateway-destination-ip', 'deleting'],
    ]);
    assert.deepEqual(summary(D), [['d1', 'custom-ruleset', 'active']]);
    assert.deepEqual((byId.get(A) as Json).resources, await resourcesOf(h, A));
    for (const s of res.body.result) assert.equal('associating_recipient_count' in s, false);
  });

  test('GET /shares: given include_resources, when listing in either direction and by name, then the shares keep the order of the list without resources and each carries exactly its own resources, oldest first', async () => {
    for (const q of [
      'per_page=50',
      'per_page=50&direction=desc',
      'per_page=50&order=name',
      'per_page=50&order=name&direction=desc',
      'per_page=2&page=2',
    ]) {
      const plain = (await list(h, `?${q}`)).body.result as Json[];
      const full = (await list(h, `?${q}&include_resources=true`)).body.result as Json[];
      assert.deepEqual(
        full.map((s) => s.id),
        plain.map((s) => s.id),
        q,
      );
      assert.ok(full.length > 0, q);
      for (const s of full)
        assert.deepEqual(s.resources, await resourcesOf(h, s.id as string), `${q} ${s.id}`);
    }
  });

  test('GET /shares: given include_recipient_counts, when listing, then each sent share carries counts per status', async () => {
    const res = await list(h, '?include_recipient_counts=true');
    const counts = res.body.result.map((s: Json) => [
      s.id,
      s.associating_recipient_count,
      s.associated_recipient_count,
      s.disassociating_recipient_count,
      s.disassociated_recipient_count,
    ]);
    assert.deepEqual(counts, [
      [A, 1, 0, 0, 0],
      [B, 3, 0, 0, 0],
      [C, 0, 0, 1, 0],
      // D is received: its recipients, and so their counts, are R1's to see.
      [D, undefined, undefined, undefined, undefined],
    ]);
    for (const s of res.body.result) assert.equal('resources' in s, false);
  });

  test('GET /shares: given each recipient, when listing, then it sees exactly the shares it actively receives', async () => {
    assert.deepEqual(await listIds(h, '', R1, TOKENS.r1), [A, B, D]);
    const r1 = (await list(h, '', R1, TOKENS.r1)).body.result;
    assert.deepEqual(
      r1.map((s: Json) => s.kind),
      ['received', 'received', 'sent'],
    );
    // R2 received C, which is now deleting: only the organization share is left.
    assert.deepEqual(await listIds(h, '', R2, TOKENS.r2), [B]);
    assert.deepEqual(await listIds(h, '', R3, R3_TOKEN), [B]);
    assert.deepEqual(await listIds(h, '', STRANGER, TOKENS.stranger), []);
  });

  test('GET /shares: given a read-only token, when listing, then 200', async () => {
    assert.deepEqual(await listIds(h, '', OWNER, TOKENS.ownerRead), [A, B, C, D]);
  });

  test('GET /shares: given an account outside the token scope, when listing, then 403 code 10000', async () => {
    assertError(await call(h.app, 'GET', base(R1)), 403, 10000, 'Authentication error');
  });
});

describe('GET /accounts/{account_id}/shares: received shares disappear', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
    await addR3Token(h);
  });
  after(async () => {
    await h.close();
  });

  test('GET /shares: given a recipient removed from a share, when it lists, then the share is gone for it only', async () => {
    const share = await create(h, {
      ...seedShareBody(),
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
    });
    const id = String(share.id);
    assert.deepEqual(await listIds(h, '', R1, TOKENS.r1), [id]);
    assert.deepEqual(await listIds(h, '', R2, TOKENS.r2), [id]);
    const r1 = (await recipientList<Json>(h.app, id)).find((r) => r.account_id === R1) as Json;
    const del = await call(h.app, 'DELETE', `${base()}/${id}/recipients/${r1.id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal(del.body.result.association_status, 'disassociating');

    assert.deepEqual(await listIds(h, '', R1, TOKENS.r1), []);
    assert.deepEqual(await listIds(h, '?kind=received', R1, TOKENS.r1), []);
    assert.equal((await list(h, '', R1, TOKENS.r1)).body.result_info.total_count, 0);
    assertError(
      await call(h.app, 'GET', `${base(R1)}/${id}`, { token: TOKENS.r1 }),
      404,
      1404,
      'Share not found',
    );
    assert.deepEqual(await listIds(h, '', R2, TOKENS.r2), [id]);
    assert.deepEqual(await listIds(h, ''), [id]);
  });

  test('GET /shares: given a deleted organization share, when recipients list, then none of them sees it', async () => {
    const share = await create(h, { ...seedShareBody(), recipients: [{}] });
    const id = String(share.id);
    assert.ok((await listIds(h, '', R3, R3_TOKEN)).includes(id));
    assert.ok((await listIds(h, '', R1, TOKENS.r1)).includes(id));
    const del = await call(h.app, 'DELETE', `${base()}/${id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    for (const [account, token] of [
      [R1, TOKENS.r1],
      [R2, TOKENS.r2],
      [R3, R3_TOKEN],
    ] as const) {
      assert.equal((await listIds(h, '', account, token)).includes(id), false, account);
      assertError(
        await call(h.app, 'GET', `${base(account)}/${id}`, { token }),
        404,
        1404,
        'Share not found',
      );
    }
    // The owner still lists it, as deleting.
    assert.deepEqual(await listIds(h, '?status=deleting'), [id]);
  });
});

describe('PUT /accounts/{account_id}/shares/{share_id}', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h.close();
  });

  const get = async (id: unknown) => (await call(h.app, 'GET', `${base()}/${id}`)).body.result as Json;

  test('PUT /shares/{id}: given a new name and no tags, when updating, then renamed, modified moves, tags kept', async () => {
    const share = await create(h, { ...seedShareBody(), tags: { env: 'prod' } });
    h.clock.advance(60_000);
    const res = await call(h.app, 'PUT', `${base()}/${share.id}`, { body: { name: 'Renamed' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const expected = { ...share, name: 'Renamed', modified: clockStamp(h) };
    assert.deepEqual(res.body, { success: true, errors: [], messages: [], result: expected });
    assert.ok(String(expected.modified) > String(share.created));
    assert.deepEqual(await get(share.id), expected);
    // Recipients and resources are untouched.
    assert.deepEqual(
      (await recipientList<Json>(h.app, String(share.id))).map((r) => [r.account_id, r.association_status]),
      [[R1, 'associating']],
    );
    assert.equal((await resourcesOf(h, String(share.id))).length, 1);
  });

  test('PUT /shares/{id}: given tags, when updating, then the tags are replaced; given {}, then cleared', async () => {
    const share = await create(h, { ...seedShareBody(), tags: { env: 'prod', team: 'a' } });
    h.clock.advance(1000);
    const res = await call(h.app, 'PUT', `${base()}/${share.id}`, {
      body: { name: 'x', tags: { team: 'b', tier: '1' } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.result.tags, { team: 'b', tier: '1' });
    assert.deepEqual((await get(share.id)).tags, { team: 'b', tier: '1' });
    assert.equal((await listIds(h, '?tag=env&per_page=100')).includes(String(share.id)), false);
    assert.deepEqual(await listIds(h, '?tag=team=b'), [share.id]);

    const cleared = await call(h.app, 'PUT', `${base()}/${share.id}`, { body: { name: 'x', tags: {} } });
    assert.deepEqual(cleared.body.result.tags, {});
    assert.deepEqual((await get(share.id)).tags, {});
  });

  const refused: [given: string, body: unknown, message: string, pointer: string][] = [
    ['no name', { tags: {} }, 'name is required', '/name'],
    ['a blank name', { name: ' ' }, 'name must not be blank', '/name'],
    ['a 256-character name', { name: 'x'.repeat(256) }, 'name must be at most 255 characters', '/name'],
    [
      'a tag key with "="',
      { name: 'x', tags: { 'a=b': 'c' } },
      'Tag key "a=b" must not contain "="',
      '/tags/a=b',
    ],
    [
      '51 tags',
      { name: 'x', tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      'tags must have at most 50 entries',
      '/tags',
    ],
  ];
  for (const [given, body, message, pointer] of refused) {
    test(`PUT /shares/{id}: given ${given}, when updating, then 400 pointing at ${pointer} and nothing changes`, async () => {
      const share = await create(h, { ...seedShareBody(), tags: { env: 'prod' } });
      h.clock.advance(1000);
      assertError(await call(h.app, 'PUT', `${base()}/${share.id}`, { body }), 400, 1400, message, pointer);
      assert.deepEqual(await get(share.id), share);
    });
  }

  test('PUT /shares/{id}: given a read-only token, when updating, then 403 and nothing changes', async () => {
    const share = await create(h);
    const res = await call(h.app, 'PUT', `${base()}/${share.id}`, {
      token: TOKENS.ownerRead,
      body: { name: 'x' },
    });
    assertError(res, 403, 10000, 'Authentication error');
    assert.deepEqual(await get(share.id), share);
  });

  test('PUT /shares/{id}: given a recipient, when updating under its own account, then 404 and nothing changes', async () => {
    const share = await create(h);
    const res = await call(h.app, 'PUT', `${base(R1)}/${share.id}`, {
      token: TOKENS.r1,
      body: { name: 'x' },
    });
    assertError(res, 404, 1404, 'Share not found');
    assert.deepEqual(await get(share.id), share);
  });

  test('PUT /shares/{id}: given an unknown id, when updating, then 404', async () => {
    const res = await call(h.app, 'PUT', `${base()}/${hexId(777, 'e')}`, { body: { name: 'x' } });
    assertError(res, 404, 1404, 'Share not found');
  });

  test('PUT /shares/{id}: given a deleted share, when updating, then 409 that should not be retried', async () => {
    const share = await create(h, { ...seedShareBody(), tags: { env: 'prod' } });
    const del = await call(h.app, 'DELETE', `${base()}/${share.id}`);
    assert.equal(del.status, 200);
    const res = await call(h.app, 'PUT', `${base()}/${share.id}`, { body: { name: 'x', tags: {} } });
    assertError(res, 409, 1409, DELETING);
    assert.equal(res.headers['x-should-retry'], 'false');
    assert.deepEqual(await get(share.id), del.body.result);
  });
});

describe('DELETE /accounts/{account_id}/shares/{share_id}', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h.close();
  });

  test('DELETE /shares/{id}: given an active share, when deleting, then deleting with its recipients and resources', async () => {
    const share = await create(h, {
      ...seedShareBody(),
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
      resources: [resource('r1'), resource('r2', 'gateway-policy')],
      tags: { env: 'prod' },
    });
    const id = String(share.id);
    h.clock.advance(5000);
    const res = await call(h.app, 'DELETE', `${base()}/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const deleting = { ...share, status: 'deleting', modified: clockStamp(h) };
    assert.deepEqual(res.body, { success: true, errors: [], messages: [], result: deleting });

    const recipients = await recipientList<Json>(h.app, id);
    assert.deepEqual(recipients.map((r) => [r.account_id, r.association_status]).sort(), [
      [R1, 'disassociating'],
      [R2, 'disassociating'],
    ]);
    const resources = await resourcesOf(h, id);
    assert.deepEqual(resources.map((r) => [r.resource_id, r.status]).sort(), [
      ['r1', 'deleting'],
      ['r2', 'deleting'],
    ]);
    const withCounts = await call(h.app, 'GET', `${base()}/${id}?include_recipient_counts=true`);
    assert.equal(withCounts.body.result.disassociating_recipient_count, 2);
    assert.equal(withCounts.body.result.associating_recipient_count, 0);

    // GET still answers, for the owner.
    const got = await call(h.app, 'GET', `${base()}/${id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.result, deleting);

    // Every later change is a conflict that should not be retried, and changes nothing.
    const conflicts: [string, string, unknown][] = [
      ['DELETE', `${base()}/${id}`, undefined],
      ['PUT', `${base()}/${id}`, { name: 'again' }],
      ['POST', `${base()}/${id}/recipients`, { recipient_account_id: R3 }],
      ['POST', `${base()}/${id}/resources`, resource('r3')],
    ];
    for (const [method, url, body] of conflicts) {
      const c = await call(h.app, method as 'POST', url, { body });
      assertError(c, 409, 1409, DELETING);
      assert.equal(c.headers['x-should-retry'], 'false', `${method} ${url}`);
    }
    assert.deepEqual((await call(h.app, 'GET', `${base()}/${id}`)).body.result, deleting);
    assert.deepEqual(await recipientList<Json>(h.app, id), recipients);
    assert.deepEqual(await resourcesOf(h, id), resources);
  });

  test('DELETE /shares/{id}: given an unknown id, when deleting, then 404', async () => {
    assertError(await call(h.app, 'DELETE', `${base()}/${hexId(4242, 'e')}`), 404, 1404, 'Share not found');
  });

  test('DELETE /shares/{id}: given a read-only token, when deleting, then 403 and the share stays active', async () => {
    const share = await create(h);
    assertError(
      await call(h.app, 'DELETE', `${base()}/${share.id}`, { token: TOKENS.ownerRead }),
      403,
      10000,
      'Authentication error',
    );
    assert.deepEqual((await call(h.app, 'GET', `${base()}/${share.id}`)).body.result, share);
  });

  test('DELETE /shares/{id}: given a recipient, when deleting under its own account, then 404 and the share stays active', async () => {
    const share = await create(h);
    assertError(
      await call(h.app, 'DELETE', `${base(R1)}/${share.id}`, { token: TOKENS.r1 }),
      404,
      1404,
      'Share not found',
    );
    assert.deepEqual((await call(h.app, 'GET', `${base()}/${share.id}`)).body.result, share);
  });
});

describe('GET /organizations/{organization_id}/shares', () => {
  let h: Harness;
  let A: string, B: string, C: string, S: string;
  before(async () => {
    h = await setup();
    h.clock.advance(1000);
    A = String((await create(h, { ...seedShareBody(), name: 'zulu' })).id);
    h.clock.advance(1000);
    B = String(
      (await create(h, { name: 'alpha', recipients: [{}], resources: [resource('b', 'gateway-policy')] })).id,
    );
    h.clock.advance(1000);
    C = String(
      (
        await create(
          h,
          {
            name: 'mike',
            recipients: [{ recipient_account_id: R2 }],
            resources: [resource('c', 'custom-ruleset', R1)],
          },
          R1,
          TOKENS.r1,
        )
      ).id,
    );
    h.clock.advance(1000);
    // A share of the other organization, which ORG must not see.
    S = String(
      (
        await create(
          h,
          { name: 'other', recipients: [{}], resources: [resource('s', 'custom-ruleset', STRANGER)] },
          STRANGER,
          TOKENS.stranger,
        )
      ).id,
    );
    h.clock.advance(1000);
    assert.equal((await call(h.app, 'DELETE', `${base()}/${A}`)).status, 200);
  });
  after(async () => {
    await h.close();
  });

  const orgIds = async (query = '', org = ORG, token: string = TOKENS.org) => {
    const res = await call(h.app, 'GET', `${orgBase(org)}${query}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.result.map((s: Json) => s.id) as string[];
  };

  test('GET /organizations/{id}/shares: given the org token, when listing, then every share of the organization as sent', async () => {
    const res = await call(h.app, 'GET', orgBase(), { token: TOKENS.org });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.result.map((s: Json) => [s.id, s.account_id, s.kind, s.status, s.organization_id]),
      [
        [A, OWNER, 'sent', 'deleting', ORG],
        [B, OWNER, 'sent', 'active', ORG],
        [C, R1, 'sent', 'active', ORG],
      ],
    );
    const own = await call(h.app, 'GET', `${base()}/${B}`);
    assert.deepEqual(res.body.result[1], own.body.result);
    assertOnePage(res, 3);
    assert.equal((await orgIds('?per_page=100')).includes(S), false);
  });

  test('GET /organizations/{id}/shares: given a user with the organization, when listing, then 200', async () => {
    const res = await call(h.app, 'GET', orgBase(), {
      token: null,
      headers: { 'x-auth-email': 'owner@acme.test', 'x-auth-key': 'owner-global-api-key-0001' },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.result.map((s: Json) => s.id),
      [A, B, C],
    );
  });

  test('GET /organizations/{id}/shares: given a token without that organization, when listing, then 403 code 10000', async () => {
    assertError(
      await call(h.app, 'GET', orgBase(), { token: TOKENS.owner }),
      403,
      10000,
      'Authentication error',
    );
    assertError(
      await call(h.app, 'GET', orgBase(OTHER_ORG), { token: TOKENS.org }),
      403,
      10000,
      'Authentication error',
    );
    assertError(
      await call(h.app, 'GET', orgBase(OTHER_ORG), { token: TOKENS.stranger }),
      403,
      10000,
      'Authentication error',
    );
  });

  test('GET /organizations/{id}/shares: given filters, when listing, then they narrow the list', async () => {
    assert.deepEqual(await orgIds('?status=active'), [B, C]);
    assert.deepEqual(await orgIds('?status=deleting'), [A]);
    assert.deepEqual(await orgIds('?target_type=organization'), [B]);
    assert.deepEqual(await orgIds('?target_type=account'), [A, C]);
    assert.deepEqual(await orgIds('?resource_types=custom-ruleset'), [A, C]);
    assert.deepEqual(await orgIds('?resource_types=gateway-policy&resource_types=custom-ruleset'), [A, B, C]);
    assert.deepEqual(await orgIds('?kind=sent'), [A, B, C]);
    assert.deepEqual(await orgIds('?kind=received'), []);
    assert.deepEqual(await orgIds('?order=name'), [B, C, A]);
    assert.deepEqual(await orgIds('?order=name&direction=desc'), [A, C, B]);
    assert.deepEqual(await orgIds('?direction=desc'), [C, B, A]);
    assert.deepEqual(await orgIds('?per_page=2&page=2'), [C]);
    assertError(
      await call(h.app, 'GET', `${orgBase()}?status=nope`, { token: TOKENS.org }),
      400,
      1400,
      'status must be one of: active, deleting, deleted',
      '/query/status',
    );
    assertError(
      await call(h.app, 'GET', `${orgBase()}?per_page=101`, { token: TOKENS.org }),
      400,
      1400,
      'per_page must be at most 100',
      '/query/per_page',
    );
  });
});

describe('POST /accounts/{account_id}/shares: text PostgreSQL cannot store', () => {
  let h: Harness;
  before(async () => (h = await setup()));
  after(() => h.close());

  test('POST /shares: given a NUL character in a resource meta value, when creating, then 400 pointing at it and nothing stored', async () => {
    const body = seedShareBody();
    (body.resources[0] as { meta: Record<string, unknown> }).meta = { rules: [{ note: 'a\u0000b' }] };
    assertError(
      await call(h.app, 'POST', base(), { body }),
      400,
      1400,
      'Text must not contain the NUL character (\\u0000)',
      '/resources/0/meta/rules/0/note',
    );
    assert.equal((await call(h.app, 'GET', base())).body.result_info.total_count, 0);
  });

  test('GET /shares/{share_id}: given a NUL character in the share id, when getting it, then 400 7003 + 7000: no id holds one', async () => {
    const url = `${base()}/abc%00`;
    assertErrors(await call(h.app, 'GET', url), 400, routeErrors(url));
  });

  test('GET /shares: given a NUL character in a tag filter, when listing, then 400 pointing at the query parameter', async () => {
    assertError(
      await call(h.app, 'GET', `${base()}?tag=env%00`),
      400,
      1400,
      'Text must not contain the NUL character (\\u0000)',
      '/query/tag',
    );
  });

  test('POST /shares: given a NUL character in a tag key, when creating, then 400 pointing at the escaped key', async () => {
    assertError(
      await call(h.app, 'POST', base(), { body: { ...seedShareBody(), tags: { 'a/b\u0000': 'x' } } }),
      400,
      1400,
      'Text must not contain the NUL character (\\u0000)',
      '/tags/a~1b\u0000',
    );
  });
});

describe('POST /accounts/{account_id}/shares: creates sent together', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h.close();
  });

  test('POST /shares: given creates sent at once, one naming a non-member, when they settle, then it is refused and writes nothing while the others are created, with an exact total', async () => {
    const named = (name: string, recipient = R1) => ({ body: { ...seedShareBody(recipient), name } });
    const [first, refused, second] = await Promise.all([
      call(h.app, 'POST', base(), named('first')),
      call(h.app, 'POST', base(), named('refused', STRANGER)),
      call(h.app, 'POST', base(), named('second')),
    ]);
    assertError(refused as Reply, 400, 1400, NOT_MEMBER(STRANGER), '/recipients/0/recipient_account_id');
    assert.equal(first?.status, 201, JSON.stringify(first?.body));
    assert.equal(second?.status, 201, JSON.stringify(second?.body));
    // The organization's counter numbers its shares: a refused create that moved it would show in the total.
    const org = await call(h.app, 'GET', `${orgBase()}?per_page=50`, { token: TOKENS.org });
    assert.equal(org.status, 200, JSON.stringify(org.body));
    assert.deepEqual(org.body.result.map((s: Json) => s.name).sort(), ['first', 'second']);
    assert.equal(org.body.result_info.total_count, 2);
    const sent = await list(h, '?per_page=50');
    assert.deepEqual(sent.body.result.map((s: Json) => s.name).sort(), ['first', 'second']);
    assert.deepEqual(await h.sql('SELECT id FROM share_recipients WHERE account_id = ?', STRANGER), []);
  });
});
