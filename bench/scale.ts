/**
 * `npm run bench -- --scale [--quick] [--store sqlite|postgres|both] [--dist]`: the scale matrix.
 *
 * For each store, two servers in turn (child processes, `rshare serve` with its defaults):
 *  1. a store seeded by `rshare seed` (1,000,000 shares over 1,000 accounts; --quick: 20,000 over 100):
 *     list and object latency from one sequential client, total_count checks, peak RSS;
 *  2. a store bootstrapped with a 20,000-account organization and a 3-account one: start time, then
 *     GET share by credential scope, creates by organization size, throughput against a bare node:http
 *     server (load generator and wrk) and organization-targeted creates with their full fan-out.
 * On PostgreSQL both are databases of one throwaway cluster. Targets are printed beside every figure
 * as met/MISSED and never enforced; the exit code is non-zero only when the bench itself broke. The whole
 * run is bounded by an abort timer that stops servers, clusters and child processes and removes temp
 * files. Figures go to stdout and bench/scale-results.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPostgresBin } from '../test/support/postgres.js';
import type { ServerProcess, ServerProcessOptions } from '../test/support/process.js';
import { rssOf } from './proc.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';
import { FULL, QUICK } from './scale-config.js';
import type { ScaleContext } from './scale-context.js';
import { runFanouts } from './scale-fanout.js';
import { writeTenancyBootstrap } from './scale-fixtures.js';
import { runMatrix } from './scale-matrix.js';
import { fmt, LABEL, Report, say, type StoreKind } from './scale-report.js';
import { HTTP_SEED, seedOverHttp, seedWithCli, writeSeedBootstrap, type Seeded } from './scale-seed.js';
import { drained, timedStart } from './scale-server.js';
import { runTenancy } from './scale-tenancy.js';
import { runThroughput } from './scale-throughput.js';
import { ensureWrk } from './wrk.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RSS_MIB = 256;
const START_MS: Record<StoreKind, number> = { sqlite: 1000, postgres: 3000 };
/** The documented default for an API node (`--pool-size`). */
const POOL_SIZE = 10;

export interface ScaleOptions {
  stores: StoreKind[];
  quick: boolean;
  dist: boolean;
}

/** Emergency stops for the abort path, by key, so each is replaced or cleared as things come and go. */
const emergency = new Map<string, () => void>();

/** Prints the table and writes the results so far; set once a run has a report. */
let finish: ((interrupted: string | undefined) => void) | undefined;

function abort(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  // An aborted run still shows what it measured: a 20-minute run losing everything helps nobody.
  try {
    finish?.(message);
  } catch (err) {
    process.stderr.write(`bench: could not write the partial results: ${String(err)}\n`);
  }
  // Servers and load first, then clusters, then files (a cluster's files are gone with its folder).
  const order = [...emergency.entries()].sort(([a], [b]) => rank(a) - rank(b));
  for (const [key, stop] of order) {
    try {
      stop();
    } catch (err) {
      process.stderr.write(`bench: cleanup of ${key} failed: ${String(err)}\n`);
    }
  }
  process.exit(code);
}
const rank = (key: string) => (key.endsWith('dir') ? 2 : key.endsWith('cluster') ? 1 : 0);

export async function runScale(options: ScaleOptions): Promise<void> {
  const config = options.quick ? QUICK : FULL;
  const report = new Report(options.stores);
  const abortMs = config.abortMsPerStore * options.stores.length + 60_000;
  const deadline = setTimeout(
    () => abort(`bench: exceeded ${fmt(abortMs / 60_000)} minutes, aborting`, 2),
    abortMs,
  );
  deadline.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => abort(`bench: ${signal}, stopping`, 130));
  const started = performance.now();
  const results: Record<string, unknown> = {
    when: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    node: process.version,
    cpus: `${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
    server: options.dist ? 'dist/cli.js (compiled)' : 'src/cli.ts through tsx',
    config,
    loadAverageAtStart: loadavg(),
    stores: {} as Record<string, unknown>,
  };
  const mode = options.quick
    ? `QUICK MODE: ${fmt(config.seed.shares, 0)} shares over ${config.seed.accounts} accounts, ${config.matrix.samples} samples per cell, short loads; checks the harness, not the targets`
    : `full mode: ${fmt(config.seed.shares, 0)} shares over ${fmt(config.seed.accounts, 0)} accounts`;
  say(
    `rshare bench --scale (${mode})\n  ${results.cpus as string}, node ${process.version}, server: ${results.server as string}\n`,
  );
  say(
    `  load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  const wrk = ensureWrk(say);
  if (!wrk.ok) {
    say(`  wrk unavailable: ${wrk.why}; its rows are marked not run\n`);
    report.notes.push(`wrk not run: ${wrk.why}`);
  }

  finish = (interrupted) => {
    finish = undefined;
    const seconds = (performance.now() - started) / 1000;
    if (interrupted) report.notes.push(`INTERRUPTED (${interrupted}): the figures above are partial`);
    report.notes.push(
      `${options.quick ? 'QUICK MODE (small store, few samples). ' : ''}whole run: ${fmt(seconds, 0)} s; load average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (${availableParallelism()} CPUs)`,
    );
    say(`\n${options.quick ? 'QUICK MODE — ' : ''}scale results\n\n${report.table()}`);
    Object.assign(results, { table: report.rows, notes: report.notes, seconds, loadAverageAtEnd: loadavg() });
    const file = join(HERE, 'scale-results.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    say(`\nwrote ${file}\n`);
  };

  for (const store of options.stores) {
    const storeResults: Record<string, unknown> = {};
    (results.stores as Record<string, unknown>)[store] = storeResults;
    if (store === 'postgres' && !findPostgresBin()) {
      const why = 'no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin';
      report.missing.postgres = 'skipped';
      report.notes.push(`PostgreSQL column skipped: ${why}.`);
      say(`\n===== PostgreSQL =====\n  SKIPPED: ${why}\n`);
      storeResults.skipped = why;
      continue;
    }
    const ctx: ScaleContext = {
      store,
      config,
      report,
      results: storeResults,
      track: (key, stop) =>
        stop ? emergency.set(`${store}:${key}`, stop) : emergency.delete(`${store}:${key}`),
    };
    try {
      await runStore(ctx, options, wrk);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`bench --scale failed on ${LABEL[store]}: ${message}\n`);
      report.missing[store] = 'failed';
      report.notes.push(
        `${LABEL[store]} run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      );
      storeResults.error = message;
      process.exitCode = 1;
    }
  }

  finish(undefined);
  clearTimeout(deadline);
}

async function runStore(
  ctx: ScaleContext,
  options: ScaleOptions,
  wrk: ReturnType<typeof ensureWrk>,
): Promise<void> {
  const { store, config, report, track } = ctx;
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  say(`\n===== ${LABEL[store]} =====\n  load average: ${load}\n`);
  // The machine is shared: a busy start explains figures better than any guess afterwards.
  report.notes.push(`${LABEL[store]} started at load average ${load}`);
  const dir = mkdtempSync(join(tmpdir(), 'rshare-bench-scale-'));
  track('dir', () => rmSync(dir, { recursive: true, force: true }));
  let server: ServerProcess | undefined;
  const setServer = (s: ServerProcess | undefined) => {
    server = s;
    track('server', s ? () => s.child.kill('SIGKILL') : undefined);
  };
  const stopServer = async () => {
    await server?.stop(10_000);
    setServer(undefined);
  };
  let cluster: BenchPostgres | undefined;
  try {
    if (store === 'postgres') {
      const started = await startBenchPostgres();
      track('cluster', () => started.stop());
      cluster = started;
    }
    const serverOptions = (database: string, bootstrap?: string): ServerProcessOptions => ({
      database,
      bootstrap,
      role: 'all',
      entry: options.dist ? 'dist' : 'src',
      logLevel: 'warn',
      // The defaults of `rshare serve`, so the figures are what an operator gets.
      leaseMs: 30_000,
      pollMs: 250,
      serveArgs: cluster ? ['--pool-size', String(POOL_SIZE)] : [],
      readyTimeoutMs: 300_000,
    });

    // Part 1: the seeded store and its latency matrix.
    const seededDb = cluster ? cluster.url : join(dir, 'seeded.db');
    report.heading(
      'Seeded store',
      `rshare seed --accounts ${config.seed.accounts} --shares ${config.seed.shares}`,
    );
    let seeded: Seeded | undefined = await seedWithCli(
      seededDb,
      config.seed,
      options.dist ? 'dist' : 'src',
      config.abortMsPerStore,
      (kill) => track('seed', kill),
    );
    let fallback: { organization_id: string; account_ids: string[] } | undefined;
    if (!seeded) {
      fallback = writeSeedBootstrap(join(dir, 'seed-bootstrap.json'));
      const why = `this build has no \`rshare seed\`: seeded ${HTTP_SEED.shares} shares over ${HTTP_SEED.accounts} accounts through the HTTP API instead; the matrix figures below say nothing about scale`;
      say(`  !!!!! ${why}\n`);
      report.notes.push(`${LABEL[store]}: ${why}.`);
    }
    setServer(
      (await timedStart(serverOptions(seededDb, fallback && join(dir, 'seed-bootstrap.json')))).server,
    );
    if (fallback) {
      seeded = await seedOverHttp(requireServer(server).url, fallback);
      await drained(requireServer(server));
    }
    if (!seeded) throw new Error('no seeded store');
    report.figure(
      store,
      'seeded store',
      `${fmt(seeded.shares, 0)} shares over ${fmt(seeded.account_ids.length, 0)} accounts via ${seeded.via} in ${fmt(seeded.ms / 1000, 1)} s`,
    );
    ctx.results.seed = { ...seeded, account_ids: seeded.account_ids.length };
    report.heading(
      `Latency matrix, ${fmt(seeded.shares, 0)} shares`,
      `1 sequential keep-alive client, ${config.matrix.warmup} warm-up + up to ${config.matrix.samples} requests per cell (at most ${config.matrix.cellBoundMs / 1000} s), per_page=100, cycling over ${config.matrix.accounts} accounts / ${config.matrix.shares} shares`,
    );
    ctx.results.matrix = await runMatrix(requireServer(server).url, seeded, config.matrix, report, store);
    const peak = memory(ctx, requireServer(server), 'seeded store');
    report.figure(
      store,
      'server peak RSS (VmHWM), seeded store',
      `${fmt(peak, 0)} MiB`,
      `< ${RSS_MIB} MiB`,
      peak < RSS_MIB,
    );
    await stopServer();

    // Parts 2-4: a store with a 20,000-account organization.
    const tenancyDb = cluster ? await cluster.createDatabase('rshare_tenancy') : join(dir, 'tenancy.db');
    const bootstrap = join(dir, 'tenancy-bootstrap.json');
    const tenancy = writeTenancyBootstrap(bootstrap, config.tenancyAccounts);
    const accounts = fmt(config.tenancyAccounts, 0);
    report.heading(
      `Tenancy: server start with the ${accounts}-account bootstrap`,
      'spawn to the first 200 from /readyz',
    );
    const first = await timedStart(serverOptions(tenancyDb, bootstrap));
    setServer(first.server);
    const target = `< ${START_MS[store] / 1000} s`;
    report.figure(
      store,
      `server start, empty store + ${accounts}-account bootstrap`,
      `${fmt(first.ms, 0)} ms`,
      target,
      first.ms < START_MS[store],
    );
    await stopServer();
    const again = await timedStart(serverOptions(tenancyDb, bootstrap));
    setServer(again.server);
    report.figure(
      store,
      `server restart, store already holding the ${accounts}-account bootstrap`,
      `${fmt(again.ms, 0)} ms`,
      target,
      again.ms < START_MS[store],
    );
    ctx.results.start = { firstMs: first.ms, restartMs: again.ms };

    await runTenancy(ctx, requireServer(server), tenancy);
    await runThroughput(ctx, requireServer(server), tenancy, wrk);
    await runFanouts(ctx, requireServer(server), tenancy);
    const tenancyPeak = memory(ctx, requireServer(server), 'tenancy store');
    report.figure(
      store,
      `server peak RSS (VmHWM), ${accounts}-account store after all parts`,
      `${fmt(tenancyPeak, 0)} MiB`,
    );
  } finally {
    const output = server?.output() ?? '';
    await stopServer();
    if (output.trim()) say(`\n${LABEL[store]} server output (tail):\n${output.slice(-3000)}\n`);
    try {
      cluster?.stop();
    } finally {
      track('cluster', undefined);
      rmSync(dir, { recursive: true, force: true });
      track('dir', undefined);
    }
  }
}

function requireServer(server: ServerProcess | undefined): ServerProcess {
  if (!server) throw new Error('no server running');
  return server;
}

/** Peak resident set of the server so far (MiB), also kept in the results. */
function memory(ctx: ScaleContext, server: ServerProcess, phase: string): number {
  const m = rssOf(server.child.pid ?? 0);
  ((ctx.results.memory ??= []) as unknown[]).push({ phase, ...m });
  return m.peakMiB ?? m.rssMiB;
}
