import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { Authenticator, type Access, type Principal } from '../src/platform/tenancy/auth.js';
import {
  CredentialCache,
  credentialCacheMs,
  DEFAULT_CREDENTIAL_CACHE_MS,
  MAX_CREDENTIAL_CACHE_MS,
} from '../src/platform/tenancy/credential-cache.js';
import { intAtLeast } from '../src/cli/options.js';
import { ManualClock } from '../src/lib/clock.js';
import { hashSecret } from '../src/lib/secrets.js';
import {
  assertError,
  base,
  call,
  hexId,
  ORG,
  OTHER_ORG,
  OWNER,
  R1,
  seedShareBody,
  setup,
  USER,
  type Harness,
  type Reply,
} from './helpers.js';
import { heldBytes } from './support/gc.js';
import { addMember, addToken } from './support/shares.js';
import { isCredentialRead, STORE_KIND } from './support/store.js';

/**
 * The credential cache: a successful authentication is reused for the same credential and target while
 * it is younger than the bound on the app's clock and no tenancy write has happened in this process since
 * it was read. Writes through the store (any store object of the process) are seen by the next request;
 * writes the process never hears of (raw SQL here, standing for another node) once the bound has passed.
 */

const TTL = DEFAULT_CREDENTIAL_CACHE_MS;
const NOT_FOUND = 'Share not found';

describe('credential cache: requests through the app', () => {
  let h: Harness;
  let shareUrl: string;
  let n = 0x40;

  before(async () => {
    h = await setup({ store: { countStatements: true } });
    const res = await call(h.app, 'POST', base(), { body: seedShareBody() });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    shareUrl = `${base()}/${res.body.result.id as string}`;
  });
  after(async () => {
    await h.close();
  });

  /** A fresh edit token on OWNER alone (each test changes its own), and its secret. */
  async function newToken(): Promise<{ id: string; value: string }> {
    n++;
    const value = `credential-cache-token-${n}-secret`;
    await addToken(h, n, value, OWNER);
    return { id: hexId(n, 'c'), value };
  }

  /** One request, and whether it read its credential from the store. */
  async function get(url: string, headers: Record<string, string>): Promise<Reply & { read: boolean }> {
    let reply: Reply | undefined;
    const texts = await h.statements.during(async () => {
      reply = await call(h.app, 'GET', url, { token: null, headers });
    });
    return { ...(reply as Reply), read: texts.some(isCredentialRead) };
  }

  /** Asks twice: the second answer comes from the cache (no credential read), so the entry is live. */
  async function cached(url: string, headers: Record<string, string>): Promise<void> {
    assert.equal((await get(url, headers)).status, 200);
    const again = await get(url, headers);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.read, false, `${STORE_KIND}: the repeat request is answered from the cache`);
  }

  const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

  test('given a cached token, when it is disabled through the store, then its next request answers 400 1000', async () => {
    const token = await newToken();
    await cached(shareUrl, bearer(token.value));
    await addToken(h, n, token.value, OWNER, { status: 'disabled' });
    assertError(await get(shareUrl, bearer(token.value)), 400, 1000, 'Invalid API Token');
  });

  test('given a cached token, when the store drops OWNER from its scope, then its next requests answer 404 1404 on the share and 403 10000 on the list', async () => {
    const token = await newToken();
    await cached(shareUrl, bearer(token.value));
    await cached(base(), bearer(token.value));
    await addToken(h, n, token.value, R1);
    assertError(await get(shareUrl, bearer(token.value)), 404, 1404, NOT_FOUND);
    assertError(await get(base(), bearer(token.value)), 403, 10000, 'Authentication error');
  });

  test('given a cached token, when a state import without it deletes it, then its next request answers 400 1000', async () => {
    const token = await newToken();
    await cached(shareUrl, bearer(token.value));
    const rows = await h.store.state.exportRows();
    await h.store.state.importRows({
      ...rows,
      tokens: rows.tokens.filter((t) => t.id !== token.id),
      token_accounts: rows.token_accounts.filter((l) => l.token_id !== token.id),
    });
    assertError(await get(shareUrl, bearer(token.value)), 400, 1000, 'Invalid API Token');
  });

  test('given a cached token, when the store moves OWNER to another organization, then its next create refuses a recipient of the old one', async () => {
    const token = await newToken();
    await cached(base(), bearer(token.value));
    const owner = await h.store.tenancy.getAccount(OWNER);
    assert.ok(owner);
    await h.store.tenancy.upsertAccount({ ...owner, organization_id: OTHER_ORG });
    try {
      const res = await call(h.app, 'POST', base(), { token: token.value, body: seedShareBody(R1) });
      assertError(
        res,
        400,
        1400,
        `Account ${R1} is not a member of the share owner's organization`,
        '/recipients/0/recipient_account_id',
      );
    } finally {
      await h.store.tenancy.upsertAccount({ ...owner, organization_id: ORG });
    }
  });

  test('given a cached user, when the store gives it another key, then the old key answers 403 9103 on its next request', async () => {
    const headers = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };
    await cached(shareUrl, headers);
    const user = await h.store.tenancy.findUserByEmail(USER.email);
    assert.ok(user);
    await h.store.tenancy.upsertUser({ ...user, api_key_hash: hashSecret('another-global-key-value-01') });
    try {
      assertError(await get(shareUrl, headers), 403, 9103, 'Unknown X-Auth-Key or X-Auth-Email');
    } finally {
      await h.store.tenancy.upsertUser(user);
    }
  });

  test('given a cached token, when another node disables it (a write this process never hears of), then the cached answer serves until the bound has passed on the clock, and 400 1000 from then on', async () => {
    const token = await newToken();
    await cached(shareUrl, bearer(token.value));
    await h.sql("UPDATE tokens SET status = 'disabled' WHERE id = ?", token.id);
    h.clock.advance(TTL - 1);
    const within = await get(shareUrl, bearer(token.value));
    assert.equal(within.status, 200, 'the cache is live: the change is not seen within the bound');
    assert.equal(within.read, false);
    h.clock.advance(1);
    assertError(await get(shareUrl, bearer(token.value)), 400, 1000, 'Invalid API Token');
  });

  test('given a token refused outside its scope, when another node grants it the account, then its next request works (refusals are never cached)', async () => {
    const token = await newToken();
    assertError(await get(base(R1), bearer(token.value)), 403, 10000, 'Authentication error');
    await h.sql('INSERT INTO token_accounts (token_id, account_id) VALUES (?, ?)', token.id, R1);
    assert.equal((await get(base(R1), bearer(token.value))).status, 200);
  });

  test('given a cached token expiring 100 ms later, when the clock reaches its expiry within the bound, then it works to the last millisecond and answers 400 1000 at expiry', async () => {
    const token = await newToken();
    // Expiry is stored to the second: the clock is moved to 100 ms before a whole second.
    const expiry = Math.ceil((h.clock.now() + TTL) / 1000) * 1000 + 1000;
    h.clock.advance(expiry - 100 - h.clock.now());
    await addToken(h, n, token.value, OWNER, { expires_on: new Date(expiry).toISOString() });
    await cached(shareUrl, bearer(token.value));
    h.clock.advance(99);
    const last = await get(shareUrl, bearer(token.value));
    assert.equal(last.status, 200, JSON.stringify(last.body));
    assert.equal(last.read, false, 'answered from the cache');
    h.clock.advance(1);
    assertError(await get(shareUrl, bearer(token.value)), 400, 1000, 'Invalid API Token');
  });

  test('given a cached token, when the clock is moved back, then its next request reads the credential again', async () => {
    const token = await newToken();
    await cached(shareUrl, bearer(token.value));
    h.clock.advance(-1);
    const res = await get(shareUrl, bearer(token.value));
    assert.equal(res.status, 200);
    assert.equal(res.read, true);
  });
});

describe('credential cache: its byte bound', () => {
  const ACCOUNTS = 60;
  const BOUND = 16 * 1024;
  const access: Access = { scope: 'account', write: false };
  const VALUE = 'credential-cache-wide-token-secret';
  let h: Harness;
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => hexId(i + 1, 'f'));

  before(async () => {
    h = await setup({ store: { countStatements: true } });
    for (const id of accounts) await addMember(h, id, `member ${id}`);
    await addToken(h, 0x70, VALUE, OWNER, { accounts });
  });
  after(async () => {
    await h.close();
  });

  const request = { headers: { authorization: `Bearer ${VALUE}` } } as unknown as FastifyRequest;

  test(`given a ${BOUND}-byte cache, when one token is authenticated against ${ACCOUNTS} accounts, then the cache keeps under its bound and an evicted account is authenticated again from the store`, async () => {
    const auth = new Authenticator(h.store.tenancy, h.clock, { cacheBytes: BOUND });
    const cache = (auth as unknown as { cache: CredentialCache<Principal> }).cache;
    for (const account_id of accounts) {
      const principal = await auth.authenticate(request, access, { account_id });
      assert.equal(principal.account?.id, account_id);
      assert.ok(cache.stats().bytes <= BOUND, `${cache.stats().bytes} bytes held`);
    }
    const { entries } = cache.stats();
    assert.ok(entries > 1 && entries < ACCOUNTS, `${entries} entries held`);

    let principal: Principal | undefined;
    const first = accounts[0] as string;
    const evicted = await h.statements.during(async () => {
      principal = await auth.authenticate(request, access, { account_id: first });
    });
    assert.equal(evicted.filter(isCredentialRead).length, 1, 'the evicted answer is read from the store');
    assert.equal(principal?.account?.id, first);
    assert.equal(principal?.inScope, true);
    const last = accounts.at(-1) as string;
    const kept = await h.statements.during(() => auth.authenticate(request, access, { account_id: last }));
    assert.deepEqual(kept, [], 'the most recent answers stay cached');
  });

  test('given a 4 MiB cache, when 20,000 distinct principals are stored, then the memory it keeps stays under 4 MiB', async () => {
    const bound = 4 * 1024 * 1024;
    const clock = new ManualClock();
    const cache = new CredentialCache<Principal>(clock, TTL, bound);
    const start = await heldBytes();
    for (let i = 0; i < 20_000; i++) {
      const id = hexId(i, 'c');
      const account = {
        id: hexId(i, 'b'),
        name: `account ${i} ${'n'.repeat(40)}`,
        organization_id: ORG,
        entitlements: null,
        created: clock.timestamp(),
        modified: clock.timestamp(),
      };
      const token = {
        id,
        name: `token ${i} ${'t'.repeat(40)}`,
        secret_hash: hashSecret(id),
        can_edit: true,
        status: 'active' as const,
        expires_on: null,
        created: clock.timestamp(),
        in_scope: true,
        account,
      };
      const principal = { kind: 'token' as const, id, canEdit: true, inScope: true, account, token };
      cache.set(`token\0${token.secret_hash}\0a:${account.id}`, principal, cache.startRead());
    }
    const held = (await heldBytes()) - start;
    const { entries, bytes } = cache.stats();
    assert.ok(bytes <= bound, `${bytes} bytes counted`);
    assert.ok(entries < 20_000, `${entries} entries kept`);
    assert.ok(held < bound, `${held} bytes held by ${entries} entries, counted as ${bytes}`);
  });
});

describe('credential cache: its time bound', () => {
  test('given 0 to 1000 ms, then it is accepted; given more, a fraction or less than 0, then it is refused naming the range', () => {
    for (const ms of [0, 1, DEFAULT_CREDENTIAL_CACHE_MS, MAX_CREDENTIAL_CACHE_MS])
      assert.equal(credentialCacheMs(ms), ms);
    for (const ms of [1001, 0.5, -1])
      assert.throws(() => credentialCacheMs(ms), {
        name: 'RangeError',
        message: `credential cache: expected an integer from 0 to 1000 ms, got ${ms}`,
      });
    const parse = intAtLeast(0, MAX_CREDENTIAL_CACHE_MS);
    assert.equal(parse('1000'), 1000);
    for (const text of ['1001', '-1', '0.5', 'x'])
      assert.throws(() => parse(text), { message: 'expected an integer from 0 to 1000' });
  });
});
