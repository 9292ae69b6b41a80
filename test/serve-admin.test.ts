import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, startServer, waitFor, type ServerProcess } from './support/process.js';

const ADMIN = 'serve-admin-test-token-0001';

async function admin(server: ServerProcess, method: string, path: string, token: string | null = ADMIN) {
  const res = await fetch(`${server.url}/_rshare${path}`, {
    method,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as { success: boolean; errors: { code: number }[] } };
}

describe('rshare serve --database :memory:', () => {
  describe('given the bundled command (the package bin) on the in-memory store with an admin token', () => {
    let server: ServerProcess;
    // test-artifacts/ is where the docs browser test, maybe running beside this file, saves its screenshot.
    const listRoot = () =>
      readdirSync(ROOT)
        .filter((f) => f !== 'test-artifacts')
        .sort();
    const before_ = listRoot();
    before(async () => {
      server = await startServer({ database: ':memory:', entry: 'bin', serveArgs: ['--admin-token', ADMIN] });
    });
    after(() => server.stop());

    it('when it is ready, then nothing was written to disk', () => {
      assert.deepEqual(listRoot(), before_);
      assert.equal(existsSync(join(ROOT, ':memory:')), false);
    });

    it('when the admin API is called with the token, then it answers; without it, 403 in the envelope', async () => {
      const ok = await admin(server, 'POST', '/reset');
      assert.equal(ok.status, 200);
      assert.equal(ok.body.success, true);
      const refused = await admin(server, 'POST', '/reset', null);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.errors[0]?.code, 10000);
    });
  });

  describe('given --journal-bytes 4096 and --journal-body-bytes 100', () => {
    let server: ServerProcess;
    before(async () => {
      server = await startServer({
        database: ':memory:',
        serveArgs: ['--admin-token', ADMIN, '--journal-bytes', '4096', '--journal-body-bytes', '100'],
      });
    });
    after(() => server.stop());

    it('when 20 bodies of 500 bytes are posted, then each is kept truncated and the journal holds at most 4096 bytes', async () => {
      const body = JSON.stringify({ pad: 'p'.repeat(490) });
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${server.url}/client/v4/nope`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, 404);
      }
      const res = await fetch(`${server.url}/_rshare/requests`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.equal(res.status, 200);
      const entries = ((await res.json()) as { result: { body_truncated: boolean; body: unknown }[] }).result;
      assert.ok(entries.length > 1 && entries.length < 20, `${entries.length} entries`);
      assert.ok(entries.map((e) => Buffer.byteLength(JSON.stringify(e))).reduce((a, b) => a + b) <= 4096);
      assert.deepEqual(
        new Set(entries.map((e) => [e.body_truncated, e.body].join())),
        new Set([`true,${body.slice(0, 100)}`]),
      );
    });
  });

  it('given --journal-body-bytes over --journal-bytes, when serve starts, then it exits 1 saying why', () => {
    const res = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        'serve',
        '--database',
        ':memory:',
        '--port',
        '0',
        '--admin-token',
        ADMIN,
        '--journal-bytes',
        '1000',
        '--journal-body-bytes',
        '5000',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^rshare: journal body bytes must not exceed journal bytes\n$/);
  });

  describe('given a server started without an admin token', () => {
    let server: ServerProcess;
    before(async () => {
      server = await startServer({ database: ':memory:' });
    });
    after(() => server.stop());

    it('when /_rshare is called, then it is an unknown route', async () => {
      const res = await admin(server, 'GET', '/state');
      assert.equal(res.status, 404);
      assert.equal(res.body.errors[0]?.code, 7003);
    });
  });

  describe('given a demo server', () => {
    let server: ServerProcess;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'rshare-demo-'));
      server = await startServer({ database: join(dir, 'demo.db'), serveArgs: ['--demo'] });
    });
    after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('when it starts, then it prints an admin token that opens the admin API', async () => {
      const printed = await waitFor(
        'admin token line',
        () => /admin token\s+(\S+)/.exec(server.output())?.[1],
      );
      const res = await admin(server, 'GET', '/clock', printed);
      assert.equal(res.status, 200);
    });

    it('when it restarts on the same store, then it prints a fresh admin token alone (the demo secrets are not shown again)', async () => {
      await server.stop();
      server = await startServer({ database: join(dir, 'demo.db'), serveArgs: ['--demo'] });
      const printed = await waitFor(
        'admin token line',
        () => /rshare admin token \(this run only\): (\S+)/.exec(server.output())?.[1],
      );
      assert.doesNotMatch(server.output(), /API token/);
      assert.equal((await admin(server, 'GET', '/clock', printed)).status, 200);
    });
  });
});
