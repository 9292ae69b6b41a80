/**
 * rshare benchmark: `npm run bench` (options after `--`).
 *
 *   --store sqlite|postgres|both  the stores to measure, one after the other (default: both)
 *   --only get,create,fanout      run only these phases (default: all)
 *   --dist                        run the compiled server (`npm run build` first) instead of src/ through tsx
 *   --cpu-prof                    profile the server (.cpuprofile in a temp folder) and print where its time went
 *   --startup                     start-up for test suites: CLI `serve --database :memory:` to /readyz, and
 *                                 startRshare() plus a first request in process, each beside bare node:http
 *   --floor                       rshare beside a same-work floor and bare node:http: GET share, a list of
 *                                 100 with resources, creates with --role all and api (bench/floor.ts);
 *                                 with --against DIR, rshare from that checkout (an earlier commit) too
 *   --scale [--quick]             the scale matrix instead (bench/scale.ts: 1M-share store, 20,000-account
 *                                 tenancy, throughput against bare node:http with wrk too); --quick: small
 *
 * For each store the server runs as a child process (`rshare serve`, bootstrap with three organizations):
 * on SQLite in a temp dir; on PostgreSQL against a fresh database of a throwaway cluster started here
 * from the machine's installation (`--pool-size 10`), stopped at the end of that store's run. Without
 * PostgreSQL binaries the PostgreSQL column is skipped, and the output says so. The GET load generator
 * and the baselines (a bare node:http server and a minimal Fastify app answering the same body) each run
 * in a forked process of their own, again for every store so each ratio compares figures taken at the
 * same time. All traffic goes to 127.0.0.1 and every phase is bounded in count and time; the whole run is
 * aborted (server, cluster and temp files cleaned up) after a fixed time. Targets are reported as
 * met/missed, never enforced. Figures go to stdout (one table, a column per store) and bench/results.json.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findPostgresBin } from '../test/support/postgres.js';
import { startServer, waitFor, type ServerProcess } from '../test/support/process.js';
import { JsonClient, percentile } from './client.js';
import { benchOrg, shareBody, TOKEN, writeBootstrap, type BenchOrg } from './fixtures.js';
import type { LoadConfig, LoadResult } from './loadgen.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';
import { ask, cpuMsOf, end, forkTs, rssOf, runLoad } from './proc.js';
import { srcTime, summarizeProfile } from './profile.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PHASES = ['get', 'create', 'fanout'] as const;
type Phase = (typeof PHASES)[number];
const STORES = ['sqlite', 'postgres'] as const;
type StoreKind = (typeof STORES)[number];
const LABEL: Record<StoreKind, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    only: { type: 'string' },
    dist: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    startup: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    against: { type: 'string' },
  },
});
if (args.quick && !args.scale) throw new Error('--quick only applies to --scale');
if (args.scale && (args.only !== undefined || args['cpu-prof']))
  throw new Error('--scale runs all its parts; --only and --cpu-prof do not apply');
const only = new Set((args.only ?? PHASES.join(',')).split(',') as Phase[]);
for (const p of only)
  if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}; known: ${PHASES.join(', ')}`);
const stores: StoreKind[] = args.store === 'both' ? [...STORES] : [args.store as StoreKind];
for (const s of stores)
  if (!STORES.includes(s)) throw new Error(`unknown store ${s}; known: ${STORES.join(', ')}, both`);

const LOAD = { connections: 32, warmupMs: 1000, durationMs: 5000, maxRequests: 2_000_000 };
const LOAD_ROUNDS = 2;
/** PostgreSQL connections of the server (`--pool-size`): the documented default for an API node. */
const POOL_SIZE = 10;
/** The whole run is aborted after this: 4 minutes per store plus one (a full run of both takes ~4). */
const ABORT_MS = 240_000 * stores.length + 60_000;

interface Sample {
  server: 'rshare' | 'bare' | 'fastify';
  client: LoadConfig['client'];
  round: number;
  result: LoadResult;
  /** Server CPU time (user + system) per response, warm-up included. */
  cpuUsPerRequest: number;
  /** For rshare on PostgreSQL: CPU time of the whole PostgreSQL cluster per response. */
  dbCpuUsPerRequest?: number;
}
const CREATES = { warmup: 20, measured: 500 };
const FANOUTS: {
  recipients: number;
  targetMs: number;
  boundMs: number;
  stores: readonly StoreKind[];
  /** Printed in place of the figure for the stores it is not run on. */
  notRunBecause?: string;
}[] = [
  { recipients: 500, targetMs: 1000, boundMs: 60_000, stores: STORES },
  { recipients: 20_000, targetMs: 10_000, boundMs: 120_000, stores: STORES },
];
const POLL_MS = 20;

/** One store's run: its server, a client for it and, for PostgreSQL, the cluster's CPU time. */
interface Run {
  store: StoreKind;
  server: ServerProcess;
  client: JsonClient;
  /** CPU time (ms) the database server has used so far; undefined when the database is in-process. */
  dbCpuMs?: () => number;
  results: Record<string, unknown>;
}

interface Cell {
  value: string;
  met: boolean | null;
}
interface Row {
  name: string;
  target: string;
  cells: Partial<Record<StoreKind, Cell>>;
}
/** Table rows in the order they were first measured; memory rows go last. */
const rows: Row[] = [];
const memoryRows: Row[] = [];
/** What a column shows where it has no figure: the run was skipped or failed before getting there. */
const missing: Partial<Record<StoreKind, string>> = {};
const notes: string[] = [];
const profiles: { store: StoreKind; dir: string }[] = [];
const results: Record<string, unknown> = {
  when: new Date().toISOString(),
  node: process.version,
  cpus: `${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
  server: args.dist ? 'dist/cli.js (compiled)' : 'src/cli.ts through tsx',
  loadAverageAtStart: loadavg(),
  stores: {} as Record<string, unknown>,
};

const fmt = (n: number, digits = 1) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(n);
const say = (text: string) => process.stdout.write(text);

function put(list: Row[], store: StoreKind, name: string, cell: Cell, target = ''): void {
  let row = list.find((r) => r.name === name);
  if (!row) list.push((row = { name, target, cells: {} }));
  row.cells[store] = cell;
}

function figure(
  store: StoreKind,
  name: string,
  value: string,
  target = '',
  met: boolean | null = null,
): void {
  put(rows, store, name, { value, met }, target);
  const verdict = met === null ? '' : met ? '  (target met)' : '  (target MISSED)';
  say(`  ${name}: ${value}${target ? `  [target ${target}]` : ''}${verdict}\n`);
}

function recordMemory(run: Run, phase: string): void {
  const pid = run.server.child.pid;
  if (pid === undefined) return;
  const m = rssOf(pid);
  const value = `${fmt(m.rssMiB)} MiB${m.peakMiB === null ? '' : ` (peak ${fmt(m.peakMiB)} MiB)`}`;
  put(memoryRows, run.store, `server RSS after ${phase}`, { value, met: null });
  ((run.results.memory ??= []) as unknown[]).push({ phase, ...m });
  say(`  server RSS after ${phase}: ${value}\n`);
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
  return runLoad({ url, headers, client, ...LOAD });
}

async function phaseGet(run: Run, org: BenchOrg): Promise<void> {
  const { server, client } = run;
  say(
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
          const db = name === 'rshare' ? run.dbCpuMs : undefined;
          const cpuBefore = cpuMsOf(target.pid);
          const dbBefore = db?.() ?? 0;
          const result = await load(target.url, headers, client);
          const cpuUsPerRequest = ((cpuMsOf(target.pid) - cpuBefore) * 1000) / result.completed;
          const dbCpuUsPerRequest = db ? ((db() - dbBefore) * 1000) / result.completed : undefined;
          samples.push({ server: name, client, round, result, cpuUsPerRequest, dbCpuUsPerRequest });
          if (result.errors > 0 || result.non200 > 0) {
            say(`  ! ${name} (${client}): ${result.errors} errors, ${result.non200} non-200\n`);
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
    figure(run.store, `GET share, rshare (${label})`, line(r));
    figure(run.store, `GET share, bare node:http, same body (${label})`, line(b));
    ratios[client] = r.result.rps / b.result.rps;
    const ratio = ratios[client];
    figure(run.store, `GET share, rshare / bare req/s (${label})`, fmt(ratio, 2), '≥ 0.5', ratio >= 0.5);
  }
  figure(
    run.store,
    'GET share, minimal Fastify app, same body (raw-socket client)',
    line(best('fastify', 'raw')),
  );
  // Server CPU per request does not depend on how busy the machine (or the load generator) is.
  const raw = (server: Sample['server']) => samples.filter((x) => x.server === server && x.client === 'raw');
  const cpu = (server: Sample['server']) =>
    percentile(
      raw(server).map((x) => x.cpuUsPerRequest),
      50,
    );
  const dbCpu = run.dbCpuMs
    ? percentile(
        raw('rshare').map((x) => x.dbCpuUsPerRequest ?? NaN),
        50,
      )
    : 0;
  figure(run.store, 'GET share, server CPU per request: rshare process', `${fmt(cpu('rshare'), 0)} µs`);
  figure(
    run.store,
    'GET share, server CPU per request: database',
    run.dbCpuMs ? `${fmt(dbCpu, 0)} µs (PostgreSQL cluster)` : 'in the rshare process',
  );
  figure(
    run.store,
    'GET share, server CPU per request: minimal Fastify / bare',
    `${fmt(cpu('fastify'), 0)} µs / ${fmt(cpu('bare'), 0)} µs`,
  );
  const cpuRatio = cpu('bare') / (cpu('rshare') + dbCpu);
  figure(
    run.store,
    'GET share, CPU-bound ratio (bare µs / rshare + database µs)',
    fmt(cpuRatio, 2),
    '≥ 0.5',
    cpuRatio >= 0.5,
  );
  run.results.get = {
    bodyBytes: Buffer.byteLength(body),
    load: LOAD,
    rounds: LOAD_ROUNDS,
    targetRatio: 0.5,
    ratioOfBest: ratios,
    cpuUsPerRequest: {
      rshare: cpu('rshare'),
      database: run.dbCpuMs ? dbCpu : null,
      fastify: cpu('fastify'),
      bare: cpu('bare'),
      ratio: cpuRatio,
    },
    samples,
  };
  recordMemory(run, 'GET throughput');
}

async function phaseCreate(run: Run, org: BenchOrg): Promise<void> {
  say(
    `\nCreate share latency (${CREATES.measured} sequential creates after ${CREATES.warmup} warm-up; 1 recipient, 1 resource, 2 tags)\n`,
  );
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < CREATES.warmup + CREATES.measured; i++) {
    const recipient = org.recipients[i % org.recipients.length] as string;
    const { ms } = await run.client.expect(
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
  const max = Math.max(...latencies);
  figure(
    run.store,
    'create share latency',
    `p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(max, 2)} ms`,
  );
  run.results.create = { count: latencies.length, p50ms: p50, p99ms: p99, maxMs: max };
  await drained(run.server);
  recordMemory(run, 'create latency');
}

const fanoutName = (n: number) => `fan-out ${fmt(n, 0)} accounts`;

async function phaseFanout(run: Run, org: BenchOrg, spec: (typeof FANOUTS)[number]): Promise<void> {
  const { server, client } = run;
  const n = org.recipients.length;
  say(`\nFan-out to ${fmt(n, 0)} accounts (organization share, 1 resource; polling every ${POLL_MS} ms)\n`);
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
    run.store,
    fanoutName(n),
    done
      ? `${fmt(elapsed, 0)} ms (${fmt((n / elapsed) * 1000, 0)} recipients/s; create ${fmt(createMs, 1)} ms)`
      : `not converged after ${spec.boundMs} ms (${associated}/${n})`,
    `< ${fmt(spec.targetMs / 1000, 0)} s`,
    done && elapsed < spec.targetMs,
  );
  figure(
    run.store,
    `  API latency while fanning out ${fmt(n, 0)}`,
    `${polls.length} polls, p50 ${fmt(percentile(polls, 50), 1)} ms, max ${fmt(Math.max(...polls), 1)} ms`,
  );
  ((run.results.fanout ??= []) as unknown[]).push({
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
  recordMemory(run, `fan-out ${n}`);
}

function printTable(): void {
  const cell = (row: Row, store: StoreKind) => {
    const c = row.cells[store];
    if (!c) return missing[store] ?? '—';
    return c.met === null ? c.value : `${c.value} (${c.met ? 'met' : 'MISSED'})`;
  };
  const table = [
    ['Measurement', 'Target', ...stores.map((s) => LABEL[s])],
    ...[...rows, ...memoryRows].map((r) => [r.name, r.target, ...stores.map((s) => cell(r, s))]),
  ];
  const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  say(`\n${line(table[0] ?? [])}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const r of table.slice(1)) say(`${line(r)}\n`);
  for (const note of notes) say(`* ${note}\n`);
}

/** Synchronous emergency stops (server child, PostgreSQL cluster, temp files) for the abort paths. */
const emergency = new Set<() => void>();

function abort(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  for (const stop of emergency) {
    try {
      stop();
    } catch (err) {
      process.stderr.write(`bench: cleanup failed: ${String(err)}\n`);
    }
  }
  process.exit(code);
}

async function runStore(store: StoreKind): Promise<void> {
  say(`\n===== ${LABEL[store]} =====\n`);
  const dir = mkdtempSync(join(tmpdir(), 'rshare-bench-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  emergency.add(removeDir);
  const storeResults: Record<string, unknown> = {};
  (results.stores as Record<string, unknown>)[store] = storeResults;
  let cluster: BenchPostgres | undefined;
  const stopCluster = () => cluster?.stop();
  let server: ServerProcess | undefined;
  const killServer = () => server?.child.kill('SIGKILL');
  let client: JsonClient | undefined;
  try {
    const small = benchOrg('a', 20);
    const fanouts = FANOUTS.map((f, i) => ({ spec: f, org: benchOrg(['b', 'c'][i] ?? 'd', f.recipients) }));
    const measured = fanouts.filter((f) => f.spec.stores.includes(store));
    const orgs = [small, ...(only.has('fanout') ? measured.map((f) => f.org) : [])];
    const bootstrap = join(dir, 'bootstrap.json');
    writeBootstrap(bootstrap, orgs);
    // Profiles stay in a temp folder of their own (they are large), printed at the end.
    const profileDir = args['cpu-prof'] ? mkdtempSync(join(tmpdir(), `rshare-bench-profile-${store}-`)) : '';
    if (profileDir) profiles.push({ store, dir: profileDir });

    let database = join(dir, 'rshare.db');
    const serveArgs: string[] = [];
    if (store === 'postgres') {
      const started = performance.now();
      emergency.add(stopCluster);
      cluster = await startBenchPostgres();
      database = cluster.url;
      serveArgs.push('--pool-size', String(POOL_SIZE));
      say(`  PostgreSQL cluster started in ${fmt(performance.now() - started, 0)} ms (${database})\n`);
    }
    const bootStarted = performance.now();
    emergency.add(killServer);
    server = await startServer({
      database,
      bootstrap,
      role: 'all',
      entry: args.dist ? 'dist' : 'src',
      logLevel: 'warn',
      // The defaults of `rshare serve`, so the figures are what an operator gets.
      leaseMs: 30_000,
      pollMs: 250,
      serveArgs,
      nodeArgs: args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      readyTimeoutMs: 120_000,
    });
    client = new JsonClient(server.url, TOKEN);
    const run: Run = {
      store,
      server,
      client,
      dbCpuMs: cluster ? cluster.cpuMs : undefined,
      results: storeResults,
    };
    const accounts = orgs.reduce((sum, o) => sum + 1 + o.recipients.length, 0);
    figure(
      store,
      'server start (migrations, bootstrap)',
      `${fmt(performance.now() - bootStarted, 0)} ms (${orgs.length} orgs, ${fmt(accounts, 0)} accounts)`,
    );
    recordMemory(run, 'start');
    if (only.has('get')) await phaseGet(run, small);
    if (only.has('create')) await phaseCreate(run, small);
    if (only.has('fanout')) {
      for (const f of fanouts) {
        if (f.spec.stores.includes(store)) await phaseFanout(run, f.org, f.spec);
        else {
          const why = f.spec.notRunBecause ?? 'not run';
          figure(
            store,
            fanoutName(f.spec.recipients),
            `not run (${why})`,
            `< ${fmt(f.spec.targetMs / 1000, 0)} s`,
          );
          notes.push(`${fanoutName(f.spec.recipients)} is not measured on ${LABEL[store]}: ${why}.`);
        }
      }
    }
  } finally {
    client?.close();
    if (server) {
      const output = server.output();
      await server.stop(args['cpu-prof'] ? 30_000 : 5000);
      if (output.trim()) say(`\n${LABEL[store]} server output:\n${output.slice(-4000)}\n`);
    }
    emergency.delete(killServer);
    try {
      cluster?.stop();
    } finally {
      emergency.delete(stopCluster);
      removeDir();
      emergency.delete(removeDir);
    }
  }
}

async function main(): Promise<void> {
  const deadline = setTimeout(
    () => abort(`bench: exceeded ${ABORT_MS / 60_000} minutes, aborting`, 2),
    ABORT_MS,
  );
  deadline.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => abort(`bench: ${signal}, stopping`, 130));
  const started = performance.now();

  say(
    `rshare bench — ${results.cpus as string}, node ${process.version}, server: ${results.server as string}, stores: ${stores.map((s) => LABEL[s]).join(', ')}\n`,
  );
  say(
    `  load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  if (args.dist && !existsSync(join(HERE, '..', 'dist', 'cli.js'))) {
    throw new Error('--dist needs the compiled server: run `npm run build` first');
  }
  for (const store of stores) {
    if (store === 'postgres' && !findPostgresBin()) {
      const why = 'no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin';
      missing.postgres = 'skipped';
      notes.push(
        `PostgreSQL column skipped: ${why}. Install PostgreSQL (Debian: apt-get install postgresql).`,
      );
      say(`\n===== PostgreSQL =====\n  SKIPPED: ${why}\n`);
      (results.stores as Record<string, unknown>).postgres = { skipped: why };
      continue;
    }
    try {
      await runStore(store);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`bench failed on ${LABEL[store]}: ${message}\n`);
      missing[store] = 'failed';
      notes.push(
        `${LABEL[store]} run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      );
      ((results.stores as Record<string, Record<string, unknown>>)[store] ??= {}).error = message;
      process.exitCode = 1;
    }
  }

  const seconds = (performance.now() - started) / 1000;
  notes.push(
    `whole bench: ${fmt(seconds, 0)} s; load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${availableParallelism()} CPUs)`,
  );
  printTable();
  results.table = [...rows, ...memoryRows];
  results.notes = notes;
  results.seconds = seconds;
  results.loadAverageAtEnd = loadavg();
  writeFileSync(join(HERE, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say(`\nwrote ${join(HERE, 'results.json')}\n`);

  for (const { store, dir } of profiles) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
      // One profile per thread: the main thread is the one that ran src/ (the other is tsx's loader).
      const profile = join(dir, file);
      if (srcTime(profile) > 0)
        say(`\nCPU profile (${LABEL[store]}) ${profile}\n${summarizeProfile(profile)}\n`);
    }
  }
  clearTimeout(deadline);
}

if (args.startup) {
  const { runStartup } = await import('./startup.js');
  await runStartup();
} else if (args.floor) {
  const { runFloor } = await import('./floor.js');
  await runFloor({ stores, dist: args.dist, ...(args.against ? { against: args.against } : {}) });
} else if (args.scale) {
  // Its own module: its own parts, table, abort timer and bench/scale-results.json.
  const { runScale } = await import('./scale.js');
  await runScale({ stores, quick: args.quick, dist: args.dist });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    abort('bench: stopping what is still running', 1);
  });
}
