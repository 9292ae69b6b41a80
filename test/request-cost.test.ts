import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isCredentialRead, STORE_KIND } from './support/store.js';
import {
  assertError,
  base,
  call,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  seedShareBody,
  setup,
  STRANGER,
  TOKENS,
  USER,
  type Harness,
} from './helpers.js';
import { addMember, addToken } from './support/shares.js';
import { DEFAULT_CREDENTIAL_CACHE_MS } from '../src/platform/tenancy/credential-cache.js';

/**
 * Work per request, counted (never timed) through the store's own connection: SQLite statements run, or
 * PostgreSQL round trips. A read costs the credential check and one statement for the answer, whatever the
 * size of the caller's scope; a create is one transaction that reads nothing it has just written. A caller
 * seen within the credential cache's bound (same credential, same account or organization) costs only
 * the answer's statements.
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

/** Moves the app's clock past the credential cache's bound, so the next request reads its credential. */
function forgetCredentials(h: Harness): void {
  h.clock.advance(DEFAULT_CREDENTIAL_CACHE_MS);
}

/** A read's statements: the credential (unless cached) and the one that answers. */
function atMostTwo(texts: readonly string[]): void {
  assert.ok(texts.length <= 2, `${STORE_KIND}: ${texts.length} statements\n${texts.join('\n---\n')}`);
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
      atMostTwo(texts);
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
      atMostTwo(texts);
    });

    test(`given ${cred.name} that just got a share, when it gets it again within the cache's bound, then the store runs only the route's one statement`, async () => {
      forgetCredentials(h);
      const url = `${base()}/${shareId}?include_resources=true`;
      const first = await cost(h, 'GET', url, cred);
      const second = await cost(h, 'GET', url, cred);
      assert.equal(first.reply.status, 200, JSON.stringify(first.reply.body));
      assert.deepEqual(second.reply.body, first.reply.body);
      const trace = `${STORE_KIND}:\n${first.texts.join('\n---\n')}\n===\n${second.texts.join('\n---\n')}`;
      assert.equal(
        first.texts.filter(isCredentialRead).length,
        1,
        `the first reads the credential\n${trace}`,
      );
      assert.deepEqual(
        second.texts,
        first.texts.filter((t) => !isCredentialRead(t)),
        trace,
      );
      assert.equal(second.texts.length, 1, trace);
    });
  }

  test('given a recipient token, when it gets a share it receives, then the store runs at most 2 statements', async () => {
    const cred = { name: 'r1', headers: { authorization: `Bearer ${TOKENS.r1}` } };
    const { texts, reply } = await cost(h, 'GET', `${base(R1)}/${shareId}`, cred);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.result.kind, 'received');
    atMostTwo(texts);
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
    atMostTwo(texts);
  });

  test("given the owner, when it reads a share's recipients and resources (pages and single objects, with resources and filters), then each read runs at most 2 statements", async () => {
    const cred = CREDENTIALS[0] as Credential;
    const shareUrl = `${base()}/${shareId}`;
    const recipients = await cost(h, 'GET', `${shareUrl}/recipients?include_resources=true`, cred);
    assert.equal(recipients.reply.status, 200, JSON.stringify(recipients.reply.body));
    assert.equal((recipients.reply.body.result_info as Json).total_count, 1);
    const [recipient] = recipients.reply.body.result as Json[];
    assert.equal(recipient?.account_id, R1);
    assert.ok(Array.isArray(recipient?.resources));
    atMostTwo(recipients.texts);
    const one = await cost(
      h,
      'GET',
      `${shareUrl}/recipients/${String(recipient?.id)}?include_resources=true`,
      cred,
    );
    assert.equal(one.reply.status, 200, JSON.stringify(one.reply.body));
    assert.deepEqual(one.reply.body.result, recipient);
    atMostTwo(one.texts);
    const resources = await cost(
      h,
      'GET',
      `${shareUrl}/resources?resource_type=custom-ruleset&status=active`,
      cred,
    );
    assert.equal(resources.reply.status, 200, JSON.stringify(resources.reply.body));
    const [resource] = resources.reply.body.result as Json[];
    assert.equal((resources.reply.body.result_info as Json).total_count, 1);
    atMostTwo(resources.texts);
    const single = await cost(h, 'GET', `${shareUrl}/resources/${String(resource?.id)}`, cred);
    assert.equal(single.reply.status, 200, JSON.stringify(single.reply.body));
    assert.deepEqual(single.reply.body.result, resource);
    atMostTwo(single.texts);
  });

  test('given a recipient and a stranger, when they read the resources of a share, then the recipient gets them and the stranger 404 1404, each in at most 2 statements', async () => {
    const url = (account: string) => `${base(account)}/${shareId}/resources`;
    const r1 = { name: 'r1', headers: { authorization: `Bearer ${TOKENS.r1}` } };
    const received = await cost(h, 'GET', url(R1), r1);
    assert.equal(received.reply.status, 200, JSON.stringify(received.reply.body));
    assert.equal((received.reply.body.result as Json[]).length, 1);
    atMostTwo(received.texts);
    const r2 = { name: 'r2', headers: { authorization: `Bearer ${TOKENS.r2}` } };
    const hidden = await cost(h, 'GET', url(R2), r2);
    assertError(hidden.reply, 404, 1404, 'Share not found');
    atMostTwo(hidden.texts);
    const recipients = await cost(h, 'GET', `${base(R1)}/${shareId}/recipients`, r1);
    assertError(recipients.reply, 404, 1404, 'Share not found');
    atMostTwo(recipients.texts);
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
    atMostTwo(texts);
  });

  test('given a valid body from a caller not seen within the cache bound, when a share is created, then the credential and one transaction that reads nothing it wrote', async () => {
    forgetCredentials(h);
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

  test('given a repeat caller, when a share is created, then the one transaction is all the store runs', async () => {
    const body = { ...seedShareBody(), tags: { a: 'b' } };
    await cost(h, 'POST', base(), CREDENTIALS[0] as Credential, body);
    const { texts, reply } = await cost(h, 'POST', base(), CREDENTIALS[0] as Credential, body);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    const trace = `${STORE_KIND}:\n${texts.join('\n---\n')}`;
    assert.ok(isBegin(texts[0] ?? '') || isWrite(texts[0] ?? ''), `the write comes first\n${trace}`);
    assert.equal(texts.filter(isCredentialRead).length, 0, trace);
  });

  test('given a recipient outside the organization, when a share is created, then the write refuses it with no read of its own', async () => {
    forgetCredentials(h);
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

describe('request cost: --credential-cache-ms 0', () => {
  let h: Harness;
  let shareId: string;

  before(async () => {
    h = await setup({ store: { countStatements: true }, app: { credentialCacheMs: 0 } });
    const res = await call(h.app, 'POST', base(), { body: seedShareBody() });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    shareId = res.body.result.id as string;
  });
  after(async () => {
    await h.close();
  });

  // The wide token is not made here: the two others cover both kinds of credential.
  for (const cred of [CREDENTIALS[0], CREDENTIALS[2]] as Credential[]) {
    test(`given the cache off and ${cred.name}, when it gets the same share twice, then each request reads its credential`, async () => {
      const url = `${base()}/${shareId}`;
      const first = await cost(h, 'GET', url, cred);
      const second = await cost(h, 'GET', url, cred);
      assert.equal(second.reply.status, 200, JSON.stringify(second.reply.body));
      const trace = `${STORE_KIND}:\n${second.texts.join('\n---\n')}`;
      assert.deepEqual(second.texts, first.texts, trace);
      assert.equal(second.texts.filter(isCredentialRead).length, 1, trace);
      assert.ok(second.texts.length <= 2, trace);
    });
  }
});
