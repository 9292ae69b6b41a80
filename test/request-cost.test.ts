import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KIND } from './support/store.js';
import {
  assertError,
  base,
  call,
  hexId,
  ORG,
  OWNER,
  R1,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  USER,
  type Harness,
} from './helpers.js';
import { addMember, addToken } from './support/shares.js';

/**
 * Work per request, counted (never timed) through the store's own connection: SQLite statements run, or
 * PostgreSQL round trips. A read costs the credential check and one statement for the answer, whatever the
 * size of the caller's scope; a create is one transaction that reads nothing it has just written.
 */

type Json = Record<string, unknown>;

const WIDE_TOKEN = 'wide-scope-token-secret-value-10';
const WIDE_SCOPE = 300;
const SHARES = 12;

type Credential = { name: string; headers: Record<string, string> };

const CREDENTIALS: Credential[] = [
  { name: 'a token scoped to one account', headers: { authorization: `Bearer ${TOKENS.owner}` } },
  {
    name: `a token scoped to ${WIDE_SCOPE} accounts and their organization`,
    headers: { authorization: `Bearer ${WIDE_TOKEN}` },
  },
  { name: 'a user key', headers: { 'x-auth-email': USER.email, 'x-auth-key': USER.key } },
];

/** Statements sent while one request is answered, and the reply. */
async function cost(h: Harness, method: 'GET' | 'POST', url: string, cred: Credential, body?: unknown) {
  let reply: Awaited<ReturnType<typeof call>> | undefined;
  const texts = await h.statements.during(async () => {
    reply = await call(h.app, method, url, { token: null, headers: cred.headers, body });
  });
  return { texts, reply: reply as Awaited<ReturnType<typeof call>> };
}

function isBegin(text: string): boolean {
  return /^\s*BEGIN\b/i.test(text);
}

function isCommit(text: string): boolean {
  return /^\s*COMMIT\b/i.test(text);
}

/** An INSERT or UPDATE, alone or as the body of a WITH whose first part writes. */
function isWrite(text: string): boolean {
  return /^\s*(INSERT|UPDATE)\b/i.test(text) || /^\s*WITH\s+\w+\s+AS\s*\(\s*(INSERT|UPDATE)\b/i.test(text);
}

describe('request cost: statements per request on the store connection', () => {
  let h: Harness;
  let shareId: string;

  before(async () => {
    h = await setup({ store: { countStatements: true } });
    const now = h.clock.timestamp();
    const wide = Array.from({ length: WIDE_SCOPE }, (_, i) => hexId(i + 1, 'e'));
    for (const id of wide) {
      await addMember(h, id, `wide ${id}`, now);
    }
    await addToken(h, 10, WIDE_TOKEN, OWNER, {
      name: 'wide',
      created: now,
      accounts: [...wide, OWNER],
      organizations: [ORG],
    });
    for (let i = 0; i < SHARES; i++) {
      h.clock.advance(1);
      const res = await call(h.app, 'POST', base(), {
        body: { ...seedShareBody(), name: `share ${i}`, tags: { team: `t${i % 3}`, env: 'prod' } },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      shareId = res.body.result.id as string;
    }
  });
  after(async () => {
    await h.close();
  });

  for (const cred of CREDENTIALS) {
    test(`given ${cred.name}, when it gets a share with its resources, then the store runs at most 2 statements`, async () => {
      const { texts, reply } = await cost(h, 'GET', `${base()}/${shareId}?include_resources=true`, cred);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.result.id, shareId);
      assert.deepEqual(reply.body.result.tags, { env: 'prod', team: `t${(SHARES - 1) % 3}` });
      assert.equal(reply.body.result.resources.length, 1);
      assert.ok(texts.length <= 2, `${STORE_KIND}: ${texts.length} statements\n${texts.join('\n---\n')}`);
    });

    test(`given ${cred.name}, when it lists a page of shares with resources, then the store runs at most 2 statements`, async () => {
      const { texts, reply } = await cost(h, 'GET', `${base()}?per_page=100&include_resources=true`, cred);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.result.length, SHARES);
      assert.equal((reply.body.result_info as Json).total_count, SHARES);
      for (const s of reply.body.result as Json[]) {
        assert.equal((s.resources as unknown[]).length, 1);
        assert.equal((s.tags as Json).env, 'prod');
      }
      assert.ok(texts.length <= 2, `${STORE_KIND}: ${texts.length} statements\n${texts.join('\n---\n')}`);
    });
  }

  test('given a recipient token, when it gets a share it receives, then the store runs at most 2 statements', async () => {
    const cred = { name: 'r1', headers: { authorization: `Bearer ${TOKENS.r1}` } };
    const { texts, reply } = await cost(h, 'GET', `${base(R1)}/${shareId}`, cred);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.result.kind, 'received');
    assert.ok(texts.length <= 2, `${STORE_KIND}: ${texts.length} statements\n${texts.join('\n---\n')}`);
  });

  test('given a page past the end, when it is listed, then total_count is exact in at most 2 statements', async () => {
    const { texts, reply } = await cost(
      h,
      'GET',
      `${base()}?per_page=5&page=9`,
      CREDENTIALS[0] as Credential,
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.result, []);
    assert.equal((reply.body.result_info as Json).total_count, SHARES);
    assert.ok(texts.length <= 2, `${STORE_KIND}: ${texts.length} statements\n${texts.join('\n---\n')}`);
  });

  test('given an organization token, when it lists the organization shares, then the store runs at most 2 statements', async () => {
    const cred = { name: 'org', headers: { authorization: `Bearer ${TOKENS.org}` } };
    const { texts, reply } = await cost(
      h,
      'GET',
      `/client/v4/organizations/${ORG}/shares?per_page=100`,
      cred,
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal((reply.body.result_info as Json).total_count, SHARES);
    assert.ok(texts.length <= 2, `${STORE_KIND}: ${texts.length} statements\n${texts.join('\n---\n')}`);
  });

  test('given a valid body, when a share is created, then the credential and one transaction that reads nothing it wrote', async () => {
    const { texts, reply } = await cost(h, 'POST', base(), CREDENTIALS[0] as Credential, {
      ...seedShareBody(),
      tags: { b: 'c', a: 'b' },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    assert.deepEqual(Object.entries(reply.body.result.tags), [
      ['a', 'b'],
      ['b', 'c'],
    ]);
    const trace = texts.join('\n---\n');
    const first = texts.findIndex((t) => isBegin(t) || isWrite(t));
    const before = texts.slice(0, first);
    const writing = texts.slice(first);
    // Only the credential (with the owner's account): the recipients' membership is checked by the write.
    assert.equal(before.length, 1, `${STORE_KIND}: ${before.length} statements before the writes\n${trace}`);
    // The writes end the request: the answer comes from what the create already holds.
    assert.deepEqual(
      writing.filter((t) => !isBegin(t) && !isCommit(t) && !isWrite(t)),
      [],
      `nothing is read once writing starts\n${trace}`,
    );
    if (STORE_KIND === 'sqlite') {
      assert.ok(isBegin(writing[0] ?? '') && isCommit(writing.at(-1) ?? ''), trace);
      assert.equal(writing.filter(isBegin).length, 1, trace);
    } else {
      // One statement writing every row is its own transaction: one round trip, two in all as the floor.
      assert.equal(writing.length, 1, `${STORE_KIND}: ${writing.length} round trips to write\n${trace}`);
      assert.equal(texts.length, 2, `${STORE_KIND}: ${texts.length} round trips in all\n${trace}`);
    }
  });

  test('given a recipient outside the organization, when a share is created, then the write refuses it with no read of its own', async () => {
    const { texts, reply } = await cost(h, 'POST', base(), CREDENTIALS[0] as Credential, {
      ...seedShareBody(),
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: STRANGER }],
    });
    assertError(
      reply,
      400,
      1400,
      `Account ${STRANGER} is not a member of the share owner's organization`,
      '/recipients/1/recipient_account_id',
    );
    const trace = texts.join('\n---\n');
    const first = texts.findIndex((t) => isBegin(t) || isWrite(t));
    assert.equal(first, 1, `${STORE_KIND}: only the credential before the write\n${trace}`);
    if (STORE_KIND === 'sqlite') {
      // The write that moves nothing, then the accounts it refused, in the one transaction.
      assert.equal(texts.length, 5, trace);
      assert.ok(isBegin(texts[1] ?? '') && isWrite(texts[2] ?? '') && isCommit(texts[4] ?? ''), trace);
    } else {
      // The statement that refuses also names the accounts it refused.
      assert.equal(texts.length, 2, `${STORE_KIND}: ${texts.length} round trips in all\n${trace}`);
    }
  });
});
