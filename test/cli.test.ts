import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashSecret } from '../src/lib/secrets.js';
import { freePort } from './support/postgres.js';

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
    const res = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI,
        'token',
        'create',
        '--name',
        'x',
        '--permissions',
        'edit',
        '--database',
        database,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(res.status, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^rshare: invalid token: permissions: 'edit' requires 'read'\n$/);
  });

  test('account create: given an unknown organization, when run, then it fails naming the organization', () => {
    const unknown = 'f'.repeat(32);
    const res = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'account', 'create', '--name', 'X', '--org', unknown, '--database', database],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(res.status, 1);
    assert.match(
      res.stderr,
      new RegExp(`^rshare: invalid account: organization_id: unknown organization ${unknown}`),
    );
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
