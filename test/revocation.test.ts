import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/lib/clock.js';
import { applyBootstrap } from '../src/platform/tenancy/bootstrap.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { assertError, hexId, type Reply } from './helpers.js';
import { startServer, waitFor, type ServerProcess } from './support/process.js';
import { openTestStore, type TestStore } from './support/store.js';

/**
 * Authentication reads the token or user on every request (no cache), so a change made by another process
 * on the same database (a bootstrap re-applied by the test process or by another node) reaches a running
 * server at once. Each test allows 1 s, polled, for the change to show.
 */

const ORG = hexId(1, 'a');
const A = hexId(1, 'b');
const B = hexId(2, 'b');
const TOKEN = 'revocation-edit-token-secret-0001';
const USER = { email: 'ops@revocation.test', key: 'revocation-user-global-key-01' };
const NOT_FOUND = 'Share not found';

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

describe('revocation: a running server sees token and user changes made elsewhere within 1 s', () => {
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

  /** Polls until `path` answers `status` (at most 1 s), then returns that answer. */
  async function within1s(path: string, status: number, headers?: Record<string, string>): Promise<Reply> {
    return waitFor(
      `${path} to answer ${status}`,
      async () => {
        const res = await request(server, path, headers);
        return res.status === status ? res : undefined;
      },
      { timeoutMs: 1000, intervalMs: 20 },
    );
  }

  async function reapply(contents: unknown): Promise<void> {
    await applyBootstrap(service(), contents, 'revocation test');
  }

  before(async () => {
    db = await openTestStore();
    dir = mkdtempSync(join(tmpdir(), 'rshare-revocation-'));
    const path = join(dir, 'bootstrap.json');
    writeFileSync(path, JSON.stringify(file()));
    server = await startServer({ database: db.url, bootstrap: path, role: 'api', logLevel: 'warn' });
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

  test('given a working token, when a bootstrap re-applied by another process drops account A from its scope, then within 1 s object routes under A answer 404 1404 and collection routes 403 10000', async () => {
    assert.equal((await request(server, shareUrl)).status, 200);
    await reapply(file({ accounts: [B] }));
    assertError(await within1s(shareUrl, 404), 404, 1404, NOT_FOUND);
    assertError(await request(server, `/accounts/${A}/shares`), 403, 10000, 'Authentication error');
    assert.equal((await request(server, `/accounts/${B}/shares`)).status, 200, 'B stays in scope');
  });

  test('given a re-scoped token, when a bootstrap gives account A back, then within 1 s it reads the share again', async () => {
    await reapply(file());
    assert.equal((await within1s(shareUrl, 200)).status, 200);
  });

  test('given a working token, when a bootstrap re-applied by another process disables it, then within 1 s every route answers 1000 "Invalid API Token" (401 on tokens/verify)', async () => {
    await reapply(file({ status: 'disabled' }));
    assertError(await within1s(shareUrl, 400), 400, 1000, 'Invalid API Token');
    assertError(await request(server, '/user/tokens/verify'), 401, 1000, 'Invalid API Token');
    assertError(await request(server, `/accounts/${B}/shares`), 400, 1000, 'Invalid API Token');
  });

  test('given a working token, when a bootstrap gives it an expiry in the past, then within 1 s it answers 400 1000', async () => {
    await reapply(file());
    assert.equal((await within1s(shareUrl, 200)).status, 200);
    await reapply(file({ expires_on: '2020-01-01T00:00:00Z' }));
    assertError(await within1s(shareUrl, 400), 400, 1000, 'Invalid API Token');
  });

  test('given a token expiring 2 s from now, when its expiry passes on the running server, then it works before and answers 400 1000 within 1 s after', async () => {
    const expires = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    await reapply(file({ expires_on: expires.toISOString().replace(/\.\d{3}Z$/, 'Z') }));
    assert.equal((await within1s(shareUrl, 200)).status, 200);
    const res = await waitFor(
      'the expiry to take effect',
      async () => {
        const r = await request(server, shareUrl);
        return r.status === 400 ? r : undefined;
      },
      { timeoutMs: expires.getTime() - Date.now() + 1000, intervalMs: 20 },
    );
    assertError(res, 400, 1000, 'Invalid API Token');
  });

  test('given a user holding A, when a bootstrap drops A from its scope, then within 1 s object routes under A answer 404 1404 and collection routes 403 10000', async () => {
    const headers = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };
    assert.equal((await request(server, shareUrl, headers)).status, 200);
    await reapply(file({}, [B]));
    assertError(await within1s(shareUrl, 404, headers), 404, 1404, NOT_FOUND);
    assertError(await request(server, `/accounts/${A}/shares`, headers), 403, 10000, 'Authentication error');
  });

  test('given a working token, when another node starts with a bootstrap that disables it, then within 1 s of that node being ready the first node answers 400 1000', async () => {
    await reapply(file());
    assert.equal((await within1s(shareUrl, 200)).status, 200);
    const path = join(dir, 'disabled.json');
    writeFileSync(path, JSON.stringify(file({ status: 'disabled' })));
    other = await startServer({ database: db.url, bootstrap: path, role: 'api', logLevel: 'warn' });
    assertError(await within1s(shareUrl, 400), 400, 1000, 'Invalid API Token');
    assertError(await request(other, shareUrl), 400, 1000, 'Invalid API Token');
  });
});
