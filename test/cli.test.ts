import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { auditEntry, CLI_ACTOR } from '../src/platform/audit/entry.js';
import { openSqliteStore } from '../src/adapters/sqlite/index.js';
import { systemClock } from '../src/lib/clock.js';
import { hashSecret } from '../src/lib/secrets.js';
import { freePort } from './support/port.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'src', 'cli.ts');

let dir: string;
let database: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rshare-cli-'));
  database = join(dir, 'rshare.db');
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI against the temp database (`--database` wins over any DATABASE_URL in the environment). */
function rshare(...args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', CLI, ...args, '--database', database], {
    cwd: ROOT,
    encoding: 'utf8',
  });
}

/** The same, for a run expected to fail: its status and both streams. */
function rshareRun(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args, '--database', database], {
    cwd: ROOT,
    encoding: 'utf8',
  });
}

function rshareJson<T>(...args: string[]): T {
  return JSON.parse(rshare(...args, '--json')) as T;
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('rshare CLI', () => {
  let orgId: string;
  let accountId: string;

  before(() => {
    orgId = rshareJson<{ id: string }>('org', 'create', '--name', 'Acme').id;
    accountId = rshareJson<{ id: string }>(
      'account',
      'create',
      '--name',
      'Acme Prod',
      '--org',
      orgId,
      '--entitlements',
      'custom-ruleset,gateway-policy',
    ).id;
  });

  test('org/account create: given --json, when run, then the new rows are printed and listed', () => {
    assert.match(orgId, /^[0-9a-f]{32}$/);
    const accounts = rshareJson<{ id: string; organization_id: string; entitlements: string[] }[]>(
      'account',
      'list',
      '--org',
      orgId,
    );
    assert.deepEqual(
      accounts.map((a) => [a.id, a.organization_id, a.entitlements]),
      [[accountId, orgId, ['custom-ruleset', 'gateway-policy']]],
    );
    assert.match(rshare('org', 'list'), new RegExp(`${orgId}\\s+Acme`));
  });

  test('token create: given --json, when run, then the value is printed once and token list never shows it', () => {
    const out = rshare(
      'token',
      'create',
      '--name',
      'ci',
      '--account',
      accountId,
      '--org',
      orgId,
      '--permissions',
      'read,edit',
      '--json',
    );
    const created = JSON.parse(out) as { token: Record<string, unknown>; value: string };
    assert.match(created.value, /^[A-Za-z0-9_-]{40}$/);
    assert.equal(occurrences(out, created.value), 1);
    assert.equal(created.token.can_edit, true);
    assert.deepEqual(created.token.accounts, [accountId]);
    assert.ok(!('secret_hash' in created.token));
    assert.ok(!out.includes(hashSecret(created.value)));

    for (const listed of [rshare('token', 'list', '--json'), rshare('token', 'list')]) {
      assert.ok(listed.includes(String(created.token.id)));
      assert.ok(!listed.includes(created.value));
      assert.ok(!listed.includes(hashSecret(created.value)));
      assert.ok(!listed.includes('secret_hash'));
    }
  });

  test('user create: given an explicit api key, when run as text, then the key is printed once and user list hides it', () => {
    const key = 'ops-global-key-0123456789';
    const out = rshare(
      'user',
      'create',
      '--email',
      'ops@acme.test',
      '--api-key',
      key,
      '--account',
      accountId,
    );
    assert.equal(occurrences(out, key), 1);
    const users = rshareJson<Record<string, unknown>[]>('user', 'list');
    assert.equal(users.length, 1);
    assert.equal(users[0]?.email, 'ops@acme.test');
    assert.deepEqual(users[0]?.accounts, [accountId]);
    assert.ok(!('api_key_hash' in (users[0] ?? {})));
    const text = rshare('user', 'list');
    assert.ok(!text.includes(key) && !text.includes(hashSecret(key)));
  });

  test('token create: given edit without read, when run, then it prints rshare: <message> and exits 1', () => {
    const res = rshareRun('token', 'create', '--name', 'x', '--permissions', 'edit');
    assert.equal(res.status, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^rshare: invalid token: permissions: 'edit' requires 'read'\n$/);
  });

  test('token create: given a --value shorter than 16 characters, when run, then it exits 1 saying why and creates nothing', () => {
    const res = rshareRun('token', 'create', '--name', 'x', '--value', 'fifteen-chars-x');
    assert.equal(res.status, 1);
    assert.equal(res.stdout, '');
    assert.equal(
      res.stderr,
      'rshare: invalid token: value: must be at least 16 characters: shorter tokens can be guessed\n',
    );
    assert.equal(rshareJson<unknown[]>('token', 'list').length, 1);
  });

  test('account create: given an unknown organization, when run, then it fails naming the organization', () => {
    const unknown = 'f'.repeat(32);
    const res = rshareRun('account', 'create', '--name', 'X', '--org', unknown);
    assert.equal(res.status, 1);
    assert.match(
      res.stderr,
      new RegExp(`^rshare: invalid account: organization_id: unknown organization ${unknown}`),
    );
  });

  test('audit: given the tenancy changes above, when printed as text, then one line per entry, newest first, by the operator', () => {
    const [userId] = rshareJson<{ id: string }[]>('user', 'list').map((u) => u.id);
    const [tokenId] = rshareJson<{ id: string }[]>('token', 'list').map((t) => t.id);
    const lines = rshare('audit', '--account', accountId).trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TIME\s+ACTION\s+RESULT\s+ACTOR\s+RESOURCE\s+DESCRIPTION$/);
    const entry = (action: string, resource: string, description: string) =>
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\s+${action}\\s+success\\s+cloudflare_admin\\s+${resource}\\s+${description}$`,
      );
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.match(lines[1] ?? '', entry('create', `user:${userId}`, 'Create user'));
    assert.match(lines[2] ?? '', entry('create', `api_token:${tokenId}`, 'Create API token'));
    assert.match(lines[3] ?? '', entry('create', `account:${accountId}`, 'Create account'));
    const all = rshare('audit', '--account', accountId, '--json');
    assert.ok(!all.includes('ops-global-key-0123456789'), 'the user key in the audit log');
    assert.ok(!all.includes(hashSecret('ops-global-key-0123456789')), 'its digest in the audit log');
  });

  test('audit: given --json, when run, then it prints exactly the result of GET /logs/audit, and --limit keeps the newest', async () => {
    const value = 'audit-reader-token-value-01';
    rshare('token', 'create', '--name', 'auditor', '--account', accountId, '--value', value);
    const printed = rshareJson<{ id: string; action: { description: string } }[]>(
      'audit',
      '--account',
      accountId,
    );
    assert.equal(printed.length, 4);
    assert.equal(printed[0]?.action.description, 'Create API token');
    const store = openSqliteStore(database);
    const app = await buildApp({ store, clock: systemClock });
    try {
      const res = await app.inject({
        method: 'GET',
        url: `/client/v4/accounts/${accountId}/logs/audit?since=2000-01-01&before=2100-01-01`,
        headers: { authorization: `Bearer ${value}` },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(printed, (JSON.parse(res.body) as { result: unknown }).result);
    } finally {
      await app.close();
      await store.close();
    }
    const newest = rshareJson<{ id: string }[]>('audit', '--account', accountId, '--limit', '1');
    assert.deepEqual(newest, printed.slice(0, 1));
  });

  test('audit: given more entries than one page holds, when run with a larger --limit, then it follows the cursor to the limit', async () => {
    const store = openSqliteStore(database);
    try {
      const time = new Date(Date.now() - 60_000).toISOString().replace('Z', '000Z');
      await store.audit.record(
        Array.from({ length: 1000 }, (_, i) =>
          auditEntry(CLI_ACTOR, time, {
            account: { id: accountId, organization_id: orgId },
            action: 'update',
            description: `Bulk ${i}`,
            resource: { type: 'account', id: accountId },
          }),
        ),
      );
    } finally {
      await store.close();
    }
    const entries = rshareJson<{ id: string }[]>('audit', '--account', accountId, '--limit', '1003');
    assert.equal(entries.length, 1003);
    assert.equal(new Set(entries.map((e) => e.id)).size, 1003);
    assert.equal(rshareJson<unknown[]>('audit', '--account', accountId, '--limit', '5000').length, 1004);
  });

  test('audit: given an unknown account or a bad --since, when run, then it prints rshare: <message> and exits 1', () => {
    const unknown = 'f'.repeat(32);
    const run = (...args: string[]) => rshareRun('audit', ...args);
    const res = run('--account', unknown);
    assert.equal(res.status, 1);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, `rshare: audit: unknown account ${unknown}\n`);
    const bad = run('--account', accountId, '--since', 'yesterday');
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, 'rshare: since must be a date (2019-04-30) or an RFC 3339 timestamp\n');
  });

  test('org list: given a postgres:// url where nothing listens, when run, then exit 1 naming the connection failure', async () => {
    const port = await freePort();
    const res = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'org', 'list', '--database', `postgres://rshare@127.0.0.1:${port}/rshare`],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(res.status, 1);
    assert.equal(res.stderr, `rshare: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });
});
