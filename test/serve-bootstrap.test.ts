import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hexId } from './helpers.js';
import { freePort } from './support/port.js';
import { ROOT, startServer, writeOrganizationBootstrap } from './support/process.js';
import { openTestStore, type TestStore } from './support/store.js';

const ORG = hexId(1, 'a');
const ACCOUNT = hexId(1, 'b');
const TOKEN = 'serve-bootstrap-token-0000001';

describe('rshare serve --bootstrap', () => {
  let dir: string;
  let db: TestStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rshare-serve-bootstrap-'));
    db = await openTestStore();
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const bootstrap = (name: string, token: string): string => {
    const path = join(dir, name);
    writeOrganizationBootstrap(path, { organization: ORG, name: 'Acme', accounts: [ACCOUNT], token });
    return path;
  };
  const tokenIds = async () => (await db.sql('SELECT id FROM tokens ORDER BY id')).map((r) => String(r.id));

  it('given a store restarted with the same bootstrap file, when the token is used, then it keeps its id and still works', async () => {
    const file = bootstrap('ok.json', TOKEN);
    const ids: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const server = await startServer({ database: db.url, bootstrap: file, readyTimeoutMs: 20_000 });
      try {
        const res = await fetch(`${server.url}/client/v4/accounts/${ACCOUNT}/shares`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(res.status, 200, await res.text());
        ids.push(await tokenIds());
      } finally {
        await server.stop();
      }
    }
    assert.equal(ids[0]?.length, 1);
    assert.deepEqual(ids[1], ids[0]);
  });

  it('given an existing bootstrap file with a token shorter than 16 characters, when the server starts, then it exits 1 saying why on stderr', async () => {
    const file = bootstrap('short.json', 'short-token');
    const run = spawnSync(
      process.execPath,
      [
        ...['--import', 'tsx', 'src/cli.ts', 'serve', '--host', '127.0.0.1'],
        ...['--port', String(await freePort()), '--database', db.url, '--bootstrap', file],
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(run.status, 1, run.stderr);
    assert.equal(
      run.stderr.trim().split('\n').at(-1),
      `rshare: bootstrap ${file}: tokens[0].value: must be at least 16 characters: shorter tokens can be guessed`,
    );
    assert.ok(!run.stderr.includes('short-token'), 'the token value on stderr');
  });
});
