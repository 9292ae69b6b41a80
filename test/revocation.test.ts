import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/lib/clock.js';
import { applyBootstrap } from '../src/platform/tenancy/bootstrap.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { DEFAULT_CREDENTIAL_CACHE_MS } from '../src/platform/tenancy/credential-cache.js';
import { assertError, hexId, type Reply } from './helpers.js';
import { startServer, type ServerProcess } from './support/process.js';
import { openTestStore, type TestStore } from './support/store.js';

/**
 * A running server reuses a successful credential check for at most its credential cache's bound (500 ms
 * of its clock by default), and drops it at once when its own process writes the tenancy. So a change made
 * by another process on the same database (a bootstrap re-applied by the test process or by another node)
 * may go unseen while the bound lasts (asserted, to prove the cache is live), and is enforced once the
 * server's clock has passed it; a change made through the server itself is seen by its next request. A
 * refusal is never cached: access granted elsewhere works on the next request. The server's clock stands
 * frozen and is moved through the admin API, never by waiting; expiry is checked against it exactly.
 */

const ORG = hexId(1, 'a');
const A = hexId(1, 'b');
const B = hexId(2, 'b');
const TOKEN = 'revocation-edit-token-secret-0001';
const USER = { email: 'ops@revocation.test', key: 'revocation-user-global-key-01' };
const NOT_FOUND = 'Share not found';
const ADMIN = 'revocation-admin-token-secret-01';
const CACHE_MS = DEFAULT_CREDENTIAL_CACHE_MS;

interface TokenEntry {
  value: string;
  name: string;
  accounts: string[];
  organizations: string[];
  permissions: string[];
  status: 'active' | 'disabled';
  expires_on: string | null;
}

function file(token: Partial<TokenEntry> = {}, userAccounts: string[] = [A, B]) {
  return {
    organizations: [{ id: ORG, name: 'Revocation Org' }],
    accounts: [
      { id: A, name: 'A', organization_id: ORG },
      { id: B, name: 'B', organization_id: ORG },
    ],
    users: [{ email: USER.email, api_key: USER.key, accounts: userAccounts, organizations: [ORG] }],
    tokens: [
      {
        value: TOKEN,
        name: 'edit',
        accounts: [A, B],
        organizations: [ORG],
        permissions: ['read', 'edit'],
        status: 'active',
        expires_on: null,
        ...token,
      } satisfies TokenEntry,
    ],
  };
}

describe('revocation: a running server sees token and user changes made elsewhere within its credential cache bound', () => {
  let db: TestStore;
  let dir: string;
  let server: ServerProcess;
  let other: ServerProcess | undefined;
  let shareUrl: string;
  const service = () => new TenancyService(db.store.tenancy, systemClock);

  async function request(
    node: ServerProcess,
    path: string,
    headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
  ): Promise<Reply> {
    const res = await fetch(`${node.url}/client/v4${path}`, { headers, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  }

  /** The first request after a change: it must already answer `status`. */
  async function next(path: string, status: number, headers?: Record<string, string>): Promise<Reply> {
    const res = await request(server, path, headers);
    assert.equal(res.status, status, JSON.stringify(res.body));
    return res;
  }

  /**
   * After a change made by another process: still the cached 200 (the cache is live), then, once the
   * server's clock has moved past the bound, the change's answer, which `then` checks.
   */
  async function afterBound(
    path: string,
    then: () => Promise<void>,
    headers?: Record<string, string>,
  ): Promise<void> {
    assert.equal((await request(server, path, headers)).status, 200, 'cached within the bound');
    await clock({ advance_ms: CACHE_MS - 1 });
    assert.equal((await request(server, path, headers)).status, 200, 'cached to its last millisecond');
    await clock({ advance_ms: 1 });
    await then();
  }

  /** Moves the server's clock (`/_rshare/clock`): freeze, advance or set. */
  async function clock(body: { freeze?: boolean; advance_ms?: number; set?: string }): Promise<string> {
    const res = await fetch(`${server.url}/_rshare/clock`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return (JSON.parse(text) as { result: { now: string } }).result.now;
  }

  async function reapply(contents: unknown): Promise<void> {
    await applyBootstrap(service(), contents, 'revocation test');
  }

  before(async () => {
    db = await openTestStore();
    dir = mkdtempSync(join(tmpdir(), 'rshare-revocation-'));
    const path = join(dir, 'bootstrap.json');
    writeFileSync(path, JSON.stringify(file()));
    server = await startServer({
      database: db.url,
      bootstrap: path,
      role: 'api',
      logLevel: 'warn',
      serveArgs: ['--admin-token', ADMIN],
    });
    // The clock moves only when a test moves it, so the cache's bound is passed exactly when it says.
    await clock({ freeze: true });
    const res = await fetch(`${server.url}/client/v4/accounts/${A}/shares`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Revocation share',
        recipients: [{ recipient_account_id: B }],
        resources: [{ resource_id: 'r1', resource_type: 'custom-ruleset', resource_account_id: A, meta: {} }],
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    shareUrl = `/accounts/${A}/shares/${((await res.json()) as { result: { id: string } }).result.id}`;
  });

  after(async () => {
    await Promise.allSettled([server?.stop(), other?.stop()]);
    await db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('given a working token, when a bootstrap re-applied by another process drops account A from its scope, then it is served from the cache until the server clock passes the bound, and then object routes under A answer 404 1404 and collection routes 403 10000', async () => {
    assert.equal((await request(server, shareUrl)).status, 200);
    await reapply(file({ accounts: [B] }));
    await afterBound(shareUrl, async () => {
      assertError(await next(shareUrl, 404), 404, 1404, NOT_FOUND);
      assertError(await request(server, `/accounts/${A}/shares`), 403, 10000, 'Authentication error');
      assert.equal((await request(server, `/accounts/${B}/shares`)).status, 200, 'B stays in scope');
    });
  });

  test('given a re-scoped token, when a bootstrap gives account A back, then on its next request it reads the share again (a refusal is never cached)', async () => {
    await reapply(file());
    assert.equal((await next(shareUrl, 200)).status, 200);
  });

  test('given a working token, when a bootstrap re-applied by another process disables it, then once the server clock passes the bound every route answers 1000 "Invalid API Token" (401 on tokens/verify)', async () => {
    assert.equal((await request(server, '/user/tokens/verify')).status, 200);
    await reapply(file({ status: 'disabled' }));
    await afterBound(shareUrl, async () => {
      assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
      assertError(await request(server, '/user/tokens/verify'), 401, 1000, 'Invalid API Token');
      assertError(await request(server, `/accounts/${B}/shares`), 400, 1000, 'Invalid API Token');
    });
  });

  test('given a working token, when a bootstrap gives it an expiry in the past, then once the server clock passes the bound it answers 400 1000', async () => {
    await reapply(file());
    assert.equal((await next(shareUrl, 200)).status, 200);
    await reapply(file({ expires_on: '2020-01-01T00:00:00Z' }));
    await afterBound(shareUrl, async () => {
      assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
    });
  });

  test('given a token expiring 2 s after the server clock, when that clock passes its expiry, then it works before and answers 400 1000 once the server clock reaches it', async () => {
    await clock({ freeze: true });
    assert.equal(await clock({ set: '2030-01-01T00:00:00Z' }), '2030-01-01T00:00:00.000000Z');
    await reapply(file({ expires_on: '2030-01-01T00:00:02Z' }));
    assert.equal((await next(shareUrl, 200)).status, 200);
    await clock({ advance_ms: 1999 });
    assert.equal((await next(shareUrl, 200)).status, 200, 'valid until the last millisecond before expiry');
    await clock({ advance_ms: 1 });
    assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
  });

  test('given a user holding A, when a bootstrap drops A from its scope, then once the server clock passes the bound object routes under A answer 404 1404 and collection routes 403 10000', async () => {
    const headers = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };
    assert.equal((await request(server, shareUrl, headers)).status, 200);
    await reapply(file({}, [B]));
    await afterBound(
      shareUrl,
      async () => {
        assertError(await next(shareUrl, 404, headers), 404, 1404, NOT_FOUND);
        assertError(
          await request(server, `/accounts/${A}/shares`, headers),
          403,
          10000,
          'Authentication error',
        );
      },
      headers,
    );
  });

  test('given a working token, when another node starts with a bootstrap that disables it, then that node refuses it at once and the first node once its clock passes the bound', async () => {
    await reapply(file());
    assert.equal((await next(shareUrl, 200)).status, 200);
    const path = join(dir, 'disabled.json');
    writeFileSync(path, JSON.stringify(file({ status: 'disabled' })));
    other = await startServer({
      database: db.url,
      bootstrap: path,
      role: 'api',
      logLevel: 'warn',
      serveArgs: ['--credential-cache-ms', '0'],
    });
    assertError(await request(other, shareUrl), 400, 1000, 'Invalid API Token');
    await afterBound(shareUrl, async () => {
      assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
    });
  });

  test('given a node started with --credential-cache-ms 0 serving a token, when another process disables it, then that node refuses it on its next request', async () => {
    assert.ok(other);
    await reapply(file());
    assert.equal((await request(other, shareUrl)).status, 200);
    assert.equal((await request(other, shareUrl)).status, 200);
    await reapply(file({ status: 'disabled' }));
    assertError(await request(other, shareUrl), 400, 1000, 'Invalid API Token');
  });

  test('given a cached token, when the server itself takes a state document that disables it (PUT /_rshare/state), then its next request answers 400 1000', async () => {
    await reapply(file());
    const list = `/accounts/${B}/shares`;
    assert.equal((await next(list, 200)).status, 200);
    assert.equal((await request(server, list)).status, 200);
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const got = await fetch(`${server.url}/_rshare/state`, { headers: admin });
    const doc = ((await got.json()) as { result: { tokens: { status: string }[] } }).result;
    assert.equal(doc.tokens.length, 1);
    for (const t of doc.tokens) t.status = 'disabled';
    const put = await fetch(`${server.url}/_rshare/state`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify(doc),
    });
    assert.equal(put.status, 200, await put.text());
    assertError(await next(list, 400), 400, 1000, 'Invalid API Token');
  });
});
