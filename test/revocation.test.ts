import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/lib/clock.js';
import { applyBootstrap } from '../src/platform/tenancy/bootstrap.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { assertError, hexId, type Reply } from './helpers.js';
import { startServer, type ServerProcess } from './support/process.js';
import { openTestStore, type TestStore } from './support/store.js';

/**
 * Authentication reads the token or user on every request (no cache), so a change made by another process
 * on the same database (a bootstrap re-applied by the test process or by another node) reaches a running
 * server at once: the first request after the change has committed already sees it. Expiry is driven by
 * the server's clock, moved through the admin API, never by waiting.
 */

const ORG = hexId(1, 'a');
const A = hexId(1, 'b');
const B = hexId(2, 'b');
const TOKEN = 'revocation-edit-token-secret-0001';
const USER = { email: 'ops@revocation.test', key: 'revocation-user-global-key-01' };
const NOT_FOUND = 'Share not found';
const ADMIN = 'revocation-admin-token-secret-01';

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

describe('revocation: a running server sees token and user changes made elsewhere on its next request', () => {
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

  test('given a working token, when a bootstrap re-applied by another process drops account A from its scope, then on its next request object routes under A answer 404 1404 and collection routes 403 10000', async () => {
    assert.equal((await request(server, shareUrl)).status, 200);
    await reapply(file({ accounts: [B] }));
    assertError(await next(shareUrl, 404), 404, 1404, NOT_FOUND);
    assertError(await request(server, `/accounts/${A}/shares`), 403, 10000, 'Authentication error');
    assert.equal((await request(server, `/accounts/${B}/shares`)).status, 200, 'B stays in scope');
  });

  test('given a re-scoped token, when a bootstrap gives account A back, then on its next request it reads the share again', async () => {
    await reapply(file());
    assert.equal((await next(shareUrl, 200)).status, 200);
  });

  test('given a working token, when a bootstrap re-applied by another process disables it, then on its next request every route answers 1000 "Invalid API Token" (401 on tokens/verify)', async () => {
    await reapply(file({ status: 'disabled' }));
    assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
    assertError(await request(server, '/user/tokens/verify'), 401, 1000, 'Invalid API Token');
    assertError(await request(server, `/accounts/${B}/shares`), 400, 1000, 'Invalid API Token');
  });

  test('given a working token, when a bootstrap gives it an expiry in the past, then on its next request it answers 400 1000', async () => {
    await reapply(file());
    assert.equal((await next(shareUrl, 200)).status, 200);
    await reapply(file({ expires_on: '2020-01-01T00:00:00Z' }));
    assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
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
    await clock({ freeze: false });
  });

  test('given a user holding A, when a bootstrap drops A from its scope, then on its next request object routes under A answer 404 1404 and collection routes 403 10000', async () => {
    const headers = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };
    assert.equal((await request(server, shareUrl, headers)).status, 200);
    await reapply(file({}, [B]));
    assertError(await next(shareUrl, 404, headers), 404, 1404, NOT_FOUND);
    assertError(await request(server, `/accounts/${A}/shares`, headers), 403, 10000, 'Authentication error');
  });

  test('given a working token, when another node starts with a bootstrap that disables it, then once that node is ready the first node answers 400 1000 on its next request', async () => {
    await reapply(file());
    assert.equal((await next(shareUrl, 200)).status, 200);
    const path = join(dir, 'disabled.json');
    writeFileSync(path, JSON.stringify(file({ status: 'disabled' })));
    other = await startServer({ database: db.url, bootstrap: path, role: 'api', logLevel: 'warn' });
    assertError(await next(shareUrl, 400), 400, 1000, 'Invalid API Token');
    assertError(await request(other, shareUrl), 400, 1000, 'Invalid API Token');
  });
});
