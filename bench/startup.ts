/**
 * Start-up figures for test suites (`npm run bench -- --startup`), issue 8's targets:
 *   - `rshare serve --database :memory:` from `node dist/bin/rshare.js` (the bundled bin) to the first 200 of `/readyz`: < 500 ms;
 *   - in process, `startRshare()` plus the first API request: < 100 ms.
 * Each is measured beside its floor, in the same run and the same way: a bare `node:http` process that
 * answers `/readyz` (cold start), and `http.createServer().listen()` plus one request (in process). The
 * ratio is the figure that counts; milliseconds are printed for reading against the targets. The
 * compiled server is used (the run builds it first), as a test suite installing rshare would run it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/process.js';
import { percentile } from './client.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = 15;
/** Processes sampled for the in-process figures. */
const CHILDREN = 7;

/** Milliseconds from spawning `args` to the first 200 of `/readyz` on `port`. */
async function coldStart(args: string[], port: number): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
  try {
    const deadline = started + 10_000;
    while (performance.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await sleep(2);
    }
    throw new Error(`no /readyz within 10 s: ${args.join(' ')}`);
  } finally {
    child.kill('SIGKILL');
  }
}

/** Runs a child script printing one JSON array: the import's milliseconds, then each iteration's. */
function inProcess(script: string): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'rshare-startup-'));
  const file = join(dir, 'run.mjs');
  writeFileSync(file, script);
  try {
    const run = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`in-process run failed: ${run.stderr}`);
    return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '[]') as number[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The client's own first fetch (undici loads lazily, ~30 ms) is paid before timing, in both children: it
 * is the caller's cost in any process, not the server's.
 */
const WARM_CLIENT = `
{
  const { createServer } = await import('node:http');
  const s = createServer((req, res) => res.end('ok'));
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  await (await fetch('http://127.0.0.1:' + s.address().port + '/')).text();
  await new Promise((resolve) => s.close(resolve));
}
`;

const RSHARE_IN_PROCESS = `${WARM_CLIENT}const t = performance.now();
const { startRshare } = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))});
const imported = performance.now() - t;
const token = 'startup-bench-token-0000000001';
const bootstrap = {
  organizations: [{ id: 'a0000000000000000000000000000001', name: 'Acme' }],
  accounts: [{ id: 'b0000000000000000000000000000001', name: 'Owner', organization_id: 'a0000000000000000000000000000001' }],
  tokens: [{ value: token, name: 'bench', accounts: ['b0000000000000000000000000000001'], permissions: ['read', 'edit'] }],
};
const out = [];
for (let i = 0; i < ${RUNS + 1}; i++) {
  const t0 = performance.now();
  const r = await startRshare({ bootstrap });
  const res = await fetch(r.baseURL + '/accounts/b0000000000000000000000000000001/shares', { headers: { authorization: 'Bearer ' + token } });
  if (res.status !== 200) throw new Error('status ' + res.status);
  await res.text();
  out.push(performance.now() - t0);
  await r.close();
}
console.log(JSON.stringify([imported, ...out]));
`;

const BARE_IN_PROCESS = `${WARM_CLIENT}const t = performance.now();
const { createServer } = await import('node:http');
const imported = performance.now() - t;
const out = [];
for (let i = 0; i < ${RUNS + 1}; i++) {
  const t0 = performance.now();
  const server = createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"success":true,"result":[]}'); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const res = await fetch('http://127.0.0.1:' + server.address().port + '/x');
  await res.text();
  out.push(performance.now() - t0);
  await new Promise((resolve) => server.close(resolve));
}
console.log(JSON.stringify([imported, ...out]));
`;

const BARE_SERVER = `
require('node:http').createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"status":"ready"}'); }).listen(Number(process.argv[1]), '127.0.0.1');
`;

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

export async function runStartup(): Promise<void> {
  process.stdout.write('Building dist/ (npm run build)…\n');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');

  const rshare: number[] = [];
  const bare: number[] = [];
  // Interleaved, so both see the same machine load.
  for (let i = 0; i < RUNS; i++) {
    const p1 = await freePort();
    rshare.push(
      await coldStart(
        [
          'dist/bin/rshare.js',
          'serve',
          '--database',
          ':memory:',
          '--port',
          String(p1),
          '--admin-token',
          'bench-admin-token',
          '--log-level',
          'warn',
        ],
        p1,
      ),
    );
    const p2 = await freePort();
    bare.push(await coldStart(['-e', BARE_SERVER, String(p2)], p2));
  }
  // Each child: the import of the package, then start + first request RUNS+1 times (the first start is
  // reported apart: it runs with cold JIT and caches).
  const importR: number[] = [];
  const firstR: number[] = [];
  const warmR: number[] = [];
  const importB: number[] = [];
  const firstB: number[] = [];
  const warmB: number[] = [];
  // A first start happens once per process, so it is sampled over several processes, interleaved.
  for (let i = 0; i < CHILDREN; i++) {
    const [ir = NaN, fr = NaN, ...wr] = inProcess(RSHARE_IN_PROCESS);
    importR.push(ir);
    firstR.push(fr);
    warmR.push(...wr);
    const [ib = NaN, fb = NaN, ...wb] = inProcess(BARE_IN_PROCESS);
    importB.push(ib);
    firstB.push(fb);
    warmB.push(...wb);
  }
  const p50 = (xs: number[]) => percentile(xs, 50);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const rows: [string, string, string, string, string][] = [
    [
      'CLI (bundled bin) `serve --database :memory:` → /readyz, p50',
      fmt(p50(rshare)),
      fmt(p50(bare)),
      ratio(p50(rshare), p50(bare)),
      `< 500 ms: ${p50(rshare) < 500 ? 'met' : 'MISSED'}`,
    ],
    [
      'in process: import of the package, p50',
      fmt(p50(importR)),
      fmt(p50(importB)),
      ratio(p50(importR), p50(importB)),
      '',
    ],
    [
      'in process: first startRshare() + first request, p50',
      fmt(p50(firstR)),
      fmt(p50(firstB)),
      ratio(p50(firstR), p50(firstB)),
      `< 100 ms: ${p50(firstR) < 100 ? 'met' : 'MISSED'}`,
    ],
    [
      'in process: later startRshare() + first request, p50',
      fmt(p50(warmR)),
      fmt(p50(warmB)),
      ratio(p50(warmR), p50(warmB)),
      `< 100 ms: ${p50(warmR) < 100 ? 'met' : 'MISSED'}`,
    ],
  ];
  process.stdout.write(
    `\nStart-up (CLI: ${RUNS} runs each; in process: ${CHILDREN} processes of ${RUNS + 1} starts each; interleaved; floor = bare node:http started the same way)\n`,
  );
  process.stdout.write(`| measure | rshare | floor | ratio | target |\n| --- | --- | --- | --- | --- |\n`);
  for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
}
