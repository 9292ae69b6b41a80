/**
 * rshare benchmark: `npm run bench` (options after `--`).
 *
 *   --only get,create,fanout  run only these phases (default: all)
 *   --dist                    run the compiled server (`npm run build` first) instead of src/ through tsx
 *   --cpu-prof                profile the server (.cpuprofile in a temp folder) and print where its time went
 *
 * The server runs as a child process (`rshare serve`, SQLite in a temp dir, bootstrap with three
 * organizations); the GET load generator and the baselines (a bare node:http server and a minimal
 * Fastify app answering the same body) each run in a forked process of their own. All traffic goes to 127.0.0.1 and every phase is bounded in count and time. Targets are
 * reported as met/missed, never enforced. Figures go to stdout and bench/results.json.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer, waitFor, type ServerProcess } from '../test/support/process.js';
import { JsonClient, percentile } from './client.js';
import { benchOrg, shareBody, TOKEN, writeBootstrap, type BenchOrg } from './fixtures.js';
import type { LoadConfig, LoadResult } from './loadgen.js';
import { ask, cpuMsOf, end, forkTs, rssOf } from './proc.js';
import { srcTime, summarizeProfile } from './profile.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PHASES = ['get', 'create', 'fanout'] as const;
type Phase = (typeof PHASES)[number];

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    dist: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const only = new Set((args.only ?? PHASES.join(',')).split(',') as Phase[]);
for (const p of only)
  if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}; known: ${PHASES.join(', ')}`);

const LOAD = { connections: 32, warmupMs: 1000, durationMs: 5000, maxRequests: 2_000_000 };
const LOAD_ROUNDS = 2;

interface Sample {
  server: 'rshare' | 'bare' | 'fastify';
  client: LoadConfig['client'];
  round: number;
  result: LoadResult;
  /** Server CPU time (user + system) per response, warm-up included. */
  cpuUsPerRequest: number;
}
const CREATES = { warmup: 20, measured: 500 };
const FANOUTS = [
  { recipients: 500, targetMs: 1000, boundMs: 60_000 },
  { recipients: 10_000, targetMs: 10_000, boundMs: 120_000 },
];
const POLL_MS = 20;

interface Figure {
  name: string;
  value: string;
  target: string;
  met: boolean | null;
}
const figures: Figure[] = [];
const fanoutResults: unknown[] = [];
const memory: { phase: string; rssMiB: number; peakMiB: number | null }[] = [];
const results: Record<string, unknown> = {
  when: new Date().toISOString(),
  node: process.version,
  cpus: `${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
  server: args.dist ? 'dist/cli.js (compiled)' : 'src/cli.ts through tsx',
};

const fmt = (n: number, digits = 1) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(n);

function figure(name: string, value: string, target = '', met: boolean | null = null): void {
  figures.push({ name, value, target, met });
  const verdict = met === null ? '' : met ? '  (target met)' : '  (target MISSED)';
  process.stdout.write(`  ${name}: ${value}${target ? `  [target ${target}]` : ''}${verdict}\n`);
}

function recordMemory(server: ServerProcess, phase: string): void {
  const pid = server.child.pid;
  if (pid === undefined) return;
  const m = rssOf(pid);
  memory.push({ phase, ...m });
  process.stdout.write(
    `  server RSS after ${phase}: ${fmt(m.rssMiB)} MiB${m.peakMiB === null ? '' : ` (peak ${fmt(m.peakMiB)} MiB)`}\n`,
  );
}

/** Pending reconciler work, from the server's Prometheus metrics. */
async function pending(server: ServerProcess): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const match = /^rshare_reconcile_pending (\d+)/m.exec(text);
  if (!match) throw new Error('rshare_reconcile_pending missing from /metrics');
  return Number(match[1]);
}

async function drained(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  await waitFor('the reconciler to drain', async () => ((await pending(server)) === 0 ? true : undefined), {
    timeoutMs,
    intervalMs: 100,
  });
}

async function load(
  url: string,
  headers: Record<string, string>,
  client: LoadConfig['client'],
): Promise<LoadResult> {
  const child = forkTs('./loadgen.ts');
  try {
    const config: LoadConfig = { url, headers, client, ...LOAD };
    const answer = await ask<{ ok: boolean; result?: LoadResult; error?: string }>(
      child,
      config,
      LOAD.warmupMs + LOAD.durationMs + 30_000,
    );
    if (!answer.ok || !answer.result) throw new Error(`load generator failed: ${answer.error}`);
    return answer.result;
  } finally {
    await end(child);
  }
}

async function phaseGet(server: ServerProcess, client: JsonClient, org: BenchOrg): Promise<void> {
  process.stdout.write(
    `\nGET share throughput (${LOAD.connections} connections, ${LOAD.warmupMs / 1000} s warm-up + ${LOAD.durationMs / 1000} s, closed loop, load generator in its own process; best of ${LOAD_ROUNDS} alternating rounds)\n`,
  );
  const { result: share } = await client.expect<{ id: string }>(
    201,
    'POST',
    `/client/v4/accounts/${org.owner}/shares`,
    shareBody(org, 'throughput share', { accounts: org.recipients.slice(0, 3) }, 3),
  );
  await drained(server);
  const path = `/client/v4/accounts/${org.owner}/shares/${share.id}`;
  const sample = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = await sample.text();
  if (sample.status !== 200) throw new Error(`GET share: ${sample.status} ${body}`);

  const headers = { authorization: `Bearer ${TOKEN}` };
  const baselines = { bare: forkTs('./bare-server.ts'), fastify: forkTs('./bare-server.ts') };
  const samples: Sample[] = [];
  try {
    const targets: Record<Sample['server'], { url: string; pid: number }> = {
      rshare: { url: `${server.url}${path}`, pid: server.child.pid ?? 0 },
      bare: { url: '', pid: baselines.bare.pid ?? 0 },
      fastify: { url: '', pid: baselines.fastify.pid ?? 0 },
    };
    for (const [name, kind] of [
      ['bare', 'node'],
      ['fastify', 'fastify'],
    ] as const) {
      const { port } = await ask<{ port: number }>(baselines[name], { kind, body }, 20_000);
      targets[name].url = `http://127.0.0.1:${port}${path}`;
    }
    // Alternating rounds, so a burst of outside load on this machine does not favour one server.
    const plan: [Sample['client'], Sample['server'][]][] = [
      ['agent', ['rshare', 'bare']],
      ['raw', ['rshare', 'bare', 'fastify']],
    ];
    for (let round = 0; round < LOAD_ROUNDS; round++) {
      for (const [client, servers] of plan) {
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const name of order) {
          const target = targets[name];
          const cpuBefore = cpuMsOf(target.pid);
          const result = await load(target.url, headers, client);
          const cpuUsPerRequest = ((cpuMsOf(target.pid) - cpuBefore) * 1000) / result.completed;
          samples.push({ server: name, client, round, result, cpuUsPerRequest });
          if (result.errors > 0 || result.non200 > 0) {
            process.stdout.write(
              `  ! ${name} (${client}): ${result.errors} errors, ${result.non200} non-200\n`,
            );
          }
        }
      }
    }
  } finally {
    await Promise.all([end(baselines.bare), end(baselines.fastify)]);
  }

  const best = (server: Sample['server'], client: Sample['client']) =>
    samples
      .filter((x) => x.server === server && x.client === client)
      .reduce((a, b) => (b.result.rps > a.result.rps ? b : a));
  const line = (x: Sample) =>
    `${fmt(x.result.rps, 0)} req/s (p50 ${fmt(x.result.p50ms, 2)} ms, p99 ${fmt(x.result.p99ms, 2)} ms)`;
  const ratios: Record<string, number> = {};
  for (const [client, label] of [
    ['agent', 'http.Agent client'],
    ['raw', 'raw-socket client'],
  ] as const) {
    const r = best('rshare', client);
    const b = best('bare', client);
    figure(`GET share, rshare (${label})`, line(r));
    figure(`GET share, bare node:http, same body (${label})`, line(b));
    ratios[client] = r.result.rps / b.result.rps;
    figure(`GET share, rshare / bare (${label})`, fmt(ratios[client], 2), '≥ 0.5', ratios[client] >= 0.5);
  }
  figure('GET share, minimal Fastify app, same body (raw-socket client)', line(best('fastify', 'raw')));
  // Server CPU per request does not depend on how busy the machine (or the load generator) is.
  const cpu = (server: Sample['server']) =>
    percentile(
      samples.filter((x) => x.server === server && x.client === 'raw').map((x) => x.cpuUsPerRequest),
      50,
    );
  const cpuRatio = cpu('bare') / cpu('rshare');
  figure(
    'GET share, server CPU per request (raw-socket client)',
    `rshare ${fmt(cpu('rshare'), 0)} µs, minimal Fastify ${fmt(cpu('fastify'), 0)} µs, bare ${fmt(cpu('bare'), 0)} µs`,
  );
  figure('GET share, CPU-bound ratio (bare µs / rshare µs)', fmt(cpuRatio, 2), '≥ 0.5', cpuRatio >= 0.5);
  results.get = {
    bodyBytes: Buffer.byteLength(body),
    load: LOAD,
    rounds: LOAD_ROUNDS,
    targetRatio: 0.5,
    ratioOfBest: ratios,
    cpuUsPerRequest: { rshare: cpu('rshare'), fastify: cpu('fastify'), bare: cpu('bare'), ratio: cpuRatio },
    samples,
  };
  recordMemory(server, 'GET throughput');
}

async function phaseCreate(server: ServerProcess, client: JsonClient, org: BenchOrg): Promise<void> {
  process.stdout.write(
    `\nCreate share latency (${CREATES.measured} sequential creates after ${CREATES.warmup} warm-up; 1 recipient, 1 resource, 2 tags)\n`,
  );
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < CREATES.warmup + CREATES.measured; i++) {
    const recipient = org.recipients[i % org.recipients.length] as string;
    const { ms } = await client.expect(
      201,
      'POST',
      `/client/v4/accounts/${org.owner}/shares`,
      shareBody(org, `latency share ${i}`, { accounts: [recipient] }),
    );
    if (i >= CREATES.warmup) latencies.push(ms);
    if (performance.now() - started > 120_000) throw new Error('create phase exceeded 120 s');
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  figure(
    'create share latency',
    `p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(Math.max(...latencies), 2)} ms`,
  );
  results.create = { count: latencies.length, p50ms: p50, p99ms: p99, maxMs: Math.max(...latencies) };
  await drained(server);
  recordMemory(server, 'create latency');
}

async function phaseFanout(
  server: ServerProcess,
  client: JsonClient,
  org: BenchOrg,
  spec: (typeof FANOUTS)[number],
): Promise<void> {
  const n = org.recipients.length;
  process.stdout.write(
    `\nFan-out to ${fmt(n, 0)} accounts (organization share, 1 resource; polling every ${POLL_MS} ms)\n`,
  );
  await drained(server);
  const { result: share, ms: createMs } = await client.expect<{ id: string }>(
    201,
    'POST',
    `/client/v4/accounts/${org.owner}/shares`,
    shareBody(org, `fan-out ${n}`, 'organization'),
  );
  const t0 = performance.now();
  const polls: number[] = [];
  let associated = 0;
  let elapsed = Number.NaN;
  while (performance.now() - t0 < spec.boundMs) {
    const pollStart = performance.now();
    const { result, ms } = await client.expect<{ associated_recipient_count: number }>(
      200,
      'GET',
      `/client/v4/accounts/${org.owner}/shares/${share.id}?include_recipient_counts=true`,
    );
    polls.push(ms);
    associated = result.associated_recipient_count;
    if (associated === n) {
      elapsed = performance.now() - t0;
      break;
    }
    await sleep(Math.max(0, POLL_MS - (performance.now() - pollStart)));
  }
  const done = Number.isFinite(elapsed);
  figure(
    `fan-out ${fmt(n, 0)} accounts`,
    done
      ? `${fmt(elapsed, 0)} ms (${fmt((n / elapsed) * 1000, 0)} recipients/s; create ${fmt(createMs, 1)} ms)`
      : `not converged after ${spec.boundMs} ms (${associated}/${n})`,
    `< ${fmt(spec.targetMs / 1000, 0)} s`,
    done && elapsed < spec.targetMs,
  );
  figure(
    `  API latency while fanning out ${fmt(n, 0)}`,
    `${polls.length} polls, p50 ${fmt(percentile(polls, 50), 1)} ms, max ${fmt(Math.max(...polls), 1)} ms`,
  );
  fanoutResults.push({
    recipients: n,
    converged: done,
    ms: done ? elapsed : null,
    targetMs: spec.targetMs,
    createMs,
    polls: polls.length,
    pollP50ms: percentile(polls, 50),
    pollMaxMs: Math.max(...polls),
  });
  await drained(server);
  recordMemory(server, `fan-out ${n}`);
}

function printTable(): void {
  const rows = [
    ['Measurement', 'Value', 'Target', 'Result'],
    ...figures.map((f) => [
      f.name,
      f.value,
      f.target,
      f.met === null ? '' : f.met ? 'target met' : 'target missed',
    ]),
    ...memory.map((m) => [
      `server RSS after ${m.phase}`,
      `${fmt(m.rssMiB)} MiB${m.peakMiB === null ? '' : ` (peak ${fmt(m.peakMiB)} MiB)`}`,
      '',
      '',
    ]),
  ];
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  process.stdout.write(`\n${line(rows[0] ?? [])}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const r of rows.slice(1)) process.stdout.write(`${line(r)}\n`);
}

/** The server child, killed if the run has to be aborted. */
let running: ServerProcess | undefined;

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    process.stderr.write('bench: exceeded 5 minutes, aborting\n');
    running?.child.kill('SIGKILL');
    process.exit(2);
  }, 300_000);
  deadline.unref();

  const dir = mkdtempSync(join(tmpdir(), 'rshare-bench-'));
  const small = benchOrg('a', 20);
  const fanouts = FANOUTS.map((f, i) => ({ spec: f, org: benchOrg(['b', 'c'][i] ?? 'd', f.recipients) }));
  const bootstrap = join(dir, 'bootstrap.json');
  writeBootstrap(bootstrap, [small, ...fanouts.map((f) => f.org)]);
  // Profiles stay in a temp folder of their own (they are large), printed at the end.
  const profileDir = args['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'rshare-bench-profile-')) : '';
  process.stdout.write(
    `rshare bench — ${results.cpus as string}, node ${process.version}, server: ${results.server as string}\n`,
  );
  if (args.dist && !existsSync(join(HERE, '..', 'dist', 'cli.js'))) {
    throw new Error('--dist needs the compiled server: run `npm run build` first');
  }
  const bootStarted = performance.now();
  const server = await startServer({
    database: join(dir, 'rshare.db'),
    bootstrap,
    entry: args.dist ? 'dist' : 'src',
    logLevel: 'warn',
    // The defaults of `rshare serve`, so the figures are what an operator gets.
    leaseMs: 30_000,
    pollMs: 250,
    nodeArgs: args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    readyTimeoutMs: 120_000,
  }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  running = server;
  const client = new JsonClient(server.url, TOKEN);
  try {
    const orgs = [small, ...fanouts.map((f) => f.org)];
    const accounts = orgs.reduce((sum, o) => sum + 1 + o.recipients.length, 0);
    figure(
      `server start (bootstrap of ${orgs.length} orgs, ${fmt(accounts, 0)} accounts)`,
      `${fmt(performance.now() - bootStarted, 0)} ms`,
    );
    recordMemory(server, 'start');
    if (only.has('get')) await phaseGet(server, client, small);
    if (only.has('create')) await phaseCreate(server, client, small);
    if (only.has('fanout')) for (const f of fanouts) await phaseFanout(server, client, f.org, f.spec);
  } finally {
    client.close();
    const output = server.output();
    await server.stop(args['cpu-prof'] ? 30_000 : 5000);
    if (output.trim()) process.stdout.write(`\nserver output:\n${output.slice(-4000)}\n`);
    rmSync(dir, { recursive: true, force: true });
  }

  printTable();
  if (fanoutResults.length > 0) results.fanout = fanoutResults;
  results.figures = figures;
  results.memory = memory;
  writeFileSync(join(HERE, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${join(HERE, 'results.json')}\n`);

  if (args['cpu-prof']) {
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
      // One profile per thread: the main thread is the one that ran src/ (the other is tsx's loader).
      const profile = join(profileDir, file);
      if (srcTime(profile) > 0)
        process.stdout.write(`\nCPU profile ${profile}\n${summarizeProfile(profile)}\n`);
    }
  }
  clearTimeout(deadline);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
