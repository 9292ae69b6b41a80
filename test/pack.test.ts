import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, ROOT, waitFor } from './support/process.js';

/**
 * The package as another project gets it: `npm pack`, the tarball installed into an empty project, and
 * there the README's in-process example and `npx rshare serve`. npm installs from its cache first
 * (`--prefer-offline`), which installing this repository (`npm ci`, `npm install`) has filled.
 */

const run = promisify(execFile);
/** Every step is bounded: a hung npm or server fails the test instead of holding the run. */
const STEP_MS = 120_000;
const dir = mkdtempSync(join(tmpdir(), 'rshare-pack-'));
const project = join(dir, 'project');
let tarball = '';

const read = (path: string) => readFileSync(path, 'utf8');
const versionOf = (root: string, name: string) =>
  (JSON.parse(read(join(root, 'node_modules', name, 'package.json'))) as { version: string }).version;

/** The environment of a fresh shell: none of this run's store, port or rshare settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // else the example's own test run reports to this runner, not to its stdout
  for (const name of Object.keys(env)) {
    if (name.startsWith('RSHARE_') || ['DATABASE_URL', 'PORT', 'HOST', 'LOG_LEVEL'].includes(name))
      delete env[name];
  }
  return env;
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist/index.js')), 'dist/index.js (run npm run build)');
  // dist/ is built already; without --ignore-scripts `npm pack` would run `prepare`, a whole build, again.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
    cwd: ROOT,
    timeout: STEP_MS,
  });
  tarball = join(dir, packed.stdout.trim().split('\n').pop() ?? '');
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);

  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'probe', private: true, type: 'module' }),
  );
  const sdk = versionOf(ROOT, 'cloudflare');
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      // better-sqlite3's install script would compile SQLite again (minutes): its addon is copied below.
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--loglevel=error',
      tarball,
      `cloudflare@${sdk}`,
    ],
    { cwd: project, env: cleanEnv(), timeout: STEP_MS },
  );
  // The addon this repository's install compiled fits the same version of better-sqlite3 on this Node.
  assert.equal(versionOf(project, 'better-sqlite3'), versionOf(ROOT, 'better-sqlite3'));
  const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  mkdirSync(join(project, addon, '..'), { recursive: true });
  copyFileSync(join(ROOT, addon), join(project, addon));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed package', { timeout: 3 * STEP_MS }, () => {
  it('given the tarball, when listed, then it holds the build, migrations and contract, no sources or tests, under 500 KB', async () => {
    const size = statSync(tarball).size;
    assert.ok(size < 500 * 1024, `the tarball is ${size} bytes`);
    const { stdout } = await run('tar', ['-tzf', tarball], { timeout: STEP_MS });
    const files = stdout.split('\n').filter(Boolean);
    for (const needed of [
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/cli.js',
      'package/dist/console/index.html',
      'package/migrations/sqlite/001_init.sql',
      'package/migrations/postgres/001_init.sql',
      'package/contract/resource-sharing.openapi.json',
      'package/LICENSE',
      'package/README.md',
    ]) {
      assert.ok(files.includes(needed), `${needed} is packed`);
    }
    assert.ok(
      files.some((f) => /^package\/dist\/console\/assets\/app-[^/]+\.js$/.test(f)),
      'the console bundle is packed',
    );
    assert.deepEqual(
      files.filter((f) => /^package\/(src|test|bench|scripts|console)\/|\.map$/.test(f)),
      [],
    );
  });

  it("given the installed package, when the README's in-process example runs in that project, then its tests pass", async () => {
    const readme = read(join(ROOT, 'README.md'));
    const example = /```ts\n([\s\S]*?)```/.exec(
      readme.slice(readme.indexOf('## Using rshare in test suites')),
    )?.[1];
    if (example === undefined) assert.fail('the README has an in-process example');
    assert.ok(example.includes("from 'rshare'"), 'the README example imports the package by name');
    writeFileSync(join(project, 'example.test.ts'), example);
    // tsx only strips the types; `rshare` and `cloudflare` resolve from the project's node_modules.
    const { stdout } = await run(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), '--test', '--test-reporter=tap', 'example.test.ts'],
      { cwd: project, env: cleanEnv(), timeout: STEP_MS },
    );
    assert.match(stdout, /^# pass 2$/m);
    assert.match(stdout, /^# fail 0$/m);
  });

  it('given the installed package, when `npx rshare serve --database :memory:` starts there, then /readyz answers 200', async () => {
    const port = await freePort();
    // Its own process group: npx starts the server as a child of its own, and both must stop.
    const child = spawn(
      'npx',
      [
        '--no-install',
        'rshare',
        'serve',
        '--database',
        ':memory:',
        '--port',
        String(port),
        '--log-level',
        'warn',
      ],
      { cwd: project, env: cleanEnv(), detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-10_000)));
    const exit = once(child, 'exit');
    try {
      const ready = await waitFor(
        'the installed rshare to answer /readyz',
        async () => {
          if (child.exitCode !== null) return { exited: child.exitCode, stderr }; // fails the assertion below
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          return res.status === 200 ? ((await res.json()) as unknown) : undefined;
        },
        { timeoutMs: STEP_MS / 2, intervalMs: 100 },
      );
      assert.deepEqual(ready, { status: 'ready' });
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      const stopped = await Promise.race([exit.then(() => true), sleep(10_000, false)]);
      if (!stopped && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }
  });
});
