/**
 * `npm run bench -- --floor [--store sqlite|postgres|both] [--dist]`: rshare against two references in one
 * run, per store. The same-work floor (bench/floor-server.ts: node:http and the database driver doing
 * only the answer's reads and writes) and a bare node:http server answering rshare's own bytes. Three
 * requests: GET share, a list of 100 shares with resources, a create (2 recipients, 1 resource) with the
 * reconciler in the process (`--role all`) and without it (`--role api`). The three servers run
 * alternately, in rounds, with the project's load generator (raw-socket client, bounded in time and count);
 * the best round of each is kept, and each rshare figure is printed as a ratio against both references.
 * CPU per request is the server process's own, plus, on PostgreSQL, the cluster's (every backend) during the
 * same load. With the reconciler in the process, a create's figures run on until it has done the work the
 * load queued (its pending work, from its metrics), so a reconciler that fell behind cannot
 * make them look better. Figures go to bench/floor-results.json. Targets are reported, never enforced.
 *
 * `--against DIR` adds a fourth server to every round: rshare from another checkout (an earlier commit,
 * with its own node_modules), on a database of its own filled the same way, so a change is measured side
 * by side with what it changed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, writeOrganizationBootstrap, type ServerProcess } from '../test/support/process.js';
import { JsonClient } from './client.js';
import { benchId } from './fixtures.js';
import type { FloorConfig } from './floor-server.js';
import type { LoadResult } from './loadgen.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';
import { ask, cpuMsOf, end, forkTs, runLoad } from './proc.js';
import { drained } from './scale-server.js';

type StoreKind = 'sqlite' | 'postgres';
type Request = 'get' | 'list' | 'create' | 'create-api';
type Server = 'floor' | 'rshare' | 'bare' | 'before';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOAD = { connections: 32, warmupMs: 1000, durationMs: 4000, maxRequests: 1_000_000 };
const ROUNDS = 3;
const LIST_SIZE = 100;
const TARGETS: Record<Request, number> = { get: 0.8, list: 0.8, create: 0.5, 'create-api': 0.8 };
const LABELS: Record<Request, string> = {
  get: 'GET share',
  list: `list ${LIST_SIZE} + resources`,
  create: 'create (reconciler in the process, --role all)',
  'create-api': 'create (--role api)',
};
const TOKEN = 'rshare-bench-floor-token-value-0001';
const ORG = benchId('f0', 1);
const OWNER = benchId('f1', 1);
const CREATOR = benchId('f1', 2);
const RECIPIENTS = [benchId('f2', 1), benchId('f2', 2)];

const say = (text: string) => process.stdout.write(text);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

interface Target {
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  status: number;
  pid: number;
  /** The server itself, when its reconciler runs in the process. */
  reconciler?: ServerProcess;
}

interface Sample {
  request: Request;
  server: Server;
  round: number;
  rps: number;
  p99ms: number;
  cpuUsPerRequest: number;
  /** PostgreSQL only: the cluster's CPU (every backend) per request during this load. */
  dbCpuUsPerRequest?: number;
  /** How long the in-process reconciler took, after the load, to finish the work the load queued. */
  drainMs?: number;
}

function createBody(account: string, name: string): string {
  return JSON.stringify({
    name,
    recipients: RECIPIENTS.map((a) => ({ recipient_account_id: a })),
    resources: [
      {
        resource_id: benchId('e0', 1),
        resource_type: 'custom-ruleset',
        resource_account_id: account,
        meta: { description: 'bench resource', priority: 1 },
      },
    ],
    tags: { env: 'bench', team: 'platform' },
  });
}

async function load(t: Target): Promise<LoadResult> {
  return runLoad({
    url: t.url,
    headers: { authorization: `Bearer ${TOKEN}` },
    client: 'raw',
    method: t.method,
    ...(t.body === undefined ? {} : { body: t.body }),
    expectStatus: t.status,
    ...LOAD,
  });
}

/** Alternating rounds over the servers for each request; each load's server CPU per response. */
async function measure(
  requests: Request[],
  targets: Record<Request, Partial<Record<Server, Target>>>,
  samples: Sample[],
  dbCpuMs?: () => number,
): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const request of requests) {
      const servers = Object.keys(targets[request]) as Server[];
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
        const t = targets[request][server] as Target;
        const cpuBefore = cpuMsOf(t.pid);
        const dbBefore = dbCpuMs?.() ?? 0;
        const r = await load(t);
        // A reconciler that fell behind would leave work (and its CPU) out of the figures: the load's
        // figures run until that work is done, so creates per second are creates the server also delivered.
        const drainMs = t.reconciler ? await drain(t.reconciler) : undefined;
        const cpuUsPerRequest = ((cpuMsOf(t.pid) - cpuBefore) * 1000) / r.completed;
        // Loads run one at a time, so the cluster's CPU in this window is this server's requests'.
        const dbCpuUsPerRequest = dbCpuMs ? ((dbCpuMs() - dbBefore) * 1000) / r.completed : undefined;
        if (r.errors > 0 || r.non200 > 0)
          say(`  ! ${server} ${request}: ${r.errors} errors, ${r.non200} bad status\n`);
        const sample: Sample = {
          request,
          server,
          round,
          rps: drainMs === undefined ? r.rps : r.completed / (r.completed / r.rps + drainMs / 1000),
          p99ms: r.p99ms,
          cpuUsPerRequest,
          ...(dbCpuUsPerRequest === undefined ? {} : { dbCpuUsPerRequest }),
          ...(drainMs === undefined ? {} : { drainMs }),
        };
        const drained = drainMs === undefined ? '' : `, reconciler done ${fmt(drainMs)} ms after the load`;
        say(
          `  ${LABELS[request]}, ${server}: ${fmt(sample.rps)} req/s, CPU/request ${cpu(sample)}${drained}\n`,
        );
        samples.push(sample);
      }
    }
  }
}

/** Waits until the server's reconciler has no work pending (its metrics, polled every 10 ms); how long. */
async function drain(server: ServerProcess): Promise<number> {
  const start = performance.now();
  await drained(server, 120_000, 10);
  return performance.now() - start;
}

async function startRshare(
  database: string,
  bootstrap: string,
  role: 'all' | 'api',
  dist: boolean,
  root?: string,
) {
  return startServer({
    ...(root ? { root } : {}),
    database,
    bootstrap,
    role,
    entry: dist ? 'dist' : 'src',
    logLevel: 'warn',
    leaseMs: 30_000,
    pollMs: 250,
    serveArgs: database.startsWith('postgres') ? ['--pool-size', '10'] : [],
    readyTimeoutMs: 120_000,
  });
}

async function fetchBody(url: string, init: RequestInit = {}): Promise<string> {
  const res = await fetch(url, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${url}: ${res.status} ${text}`);
  return text;
}

/** Fills a server's store with the list's shares through its API; the last share's id is the GET's. */
async function fillShares(url: string): Promise<string> {
  const client = new JsonClient(url, TOKEN);
  let shareId = '';
  for (let i = 0; i < LIST_SIZE; i++) {
    const { result } = await client.expect<{ id: string }>(
      201,
      'POST',
      `/client/v4/accounts/${OWNER}/shares`,
      JSON.parse(createBody(OWNER, `list share ${i}`)) as unknown,
    );
    shareId = result.id;
  }
  client.close();
  return shareId;
}

async function runStore(
  store: StoreKind,
  dist: boolean,
  against: string | undefined,
  out: Record<string, unknown>,
): Promise<void> {
  say(`\n===== ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'} =====\n`);
  const dir = mkdtempSync(join(tmpdir(), 'rshare-floor-'));
  let cluster: BenchPostgres | undefined;
  let rshare: ServerProcess | undefined;
  let before: ServerProcess | undefined;
  const children = { floor: forkTs('./floor-server.ts'), bare: [] as ReturnType<typeof forkTs>[] };
  try {
    let database = join(dir, 'rshare.db');
    let floorDatabase = join(dir, 'floor.db');
    let beforeDatabase = join(dir, 'before.db');
    if (store === 'postgres') {
      cluster = await startBenchPostgres();
      database = cluster.url;
      floorDatabase = await cluster.createDatabase('floor');
      if (against) beforeDatabase = await cluster.createDatabase('before');
    }
    const bootstrap = join(dir, 'bootstrap.json');
    const accounts = [OWNER, ...RECIPIENTS, CREATOR];
    writeOrganizationBootstrap(bootstrap, { organization: ORG, name: 'Floor org', accounts, token: TOKEN });
    rshare = await startRshare(database, bootstrap, 'all', dist);
    const shareId = await fillShares(rshare.url);
    before = against ? await startRshare(beforeDatabase, bootstrap, 'all', dist, against) : undefined;
    const beforeShareId = before ? await fillShares(before.url) : '';
    const config: FloorConfig = {
      store,
      database: floorDatabase,
      token: TOKEN,
      org: ORG,
      owner: OWNER,
      accounts,
      shares: LIST_SIZE,
    };
    const floor = await ask<{ port: number; shareId: string }>(children.floor, config, 120_000);
    const floorUrl = `http://127.0.0.1:${floor.port}`;
    const paths = {
      get: (id: string) => `/client/v4/accounts/${OWNER}/shares/${id}`,
      list: `/client/v4/accounts/${OWNER}/shares?per_page=${LIST_SIZE}&include_resources=true`,
      create: `/client/v4/accounts/${CREATOR}/shares`,
    };
    const body = createBody(CREATOR, 'bench create');
    // The bare server answers rshare's own bytes for each request.
    const answers = {
      get: await fetchBody(`${rshare.url}${paths.get(shareId)}`),
      list: await fetchBody(`${rshare.url}${paths.list}`),
      create: await fetchBody(`${rshare.url}${paths.create}`, { method: 'POST', body }),
    };
    const bare: Record<string, Target> = {};
    for (const [request, status] of [
      ['get', 200],
      ['list', 200],
      ['create', 201],
    ] as const) {
      const child = forkTs('./bare-server.ts');
      children.bare.push(child);
      const { port } = await ask<{ port: number }>(
        child,
        { kind: 'node', body: answers[request], status },
        20_000,
      );
      const method = request === 'create' ? 'POST' : 'GET';
      const path = request === 'get' ? paths.get(shareId) : paths[request];
      bare[request] = {
        method,
        url: `http://127.0.0.1:${port}${path}`,
        status,
        pid: child.pid ?? 0,
        ...(method === 'POST' ? { body } : {}),
      };
    }
    const rPid = rshare.child.pid ?? 0;
    const fPid = children.floor.pid ?? 0;
    const bPid = before?.child.pid ?? 0;
    const beside = (request: 'get' | 'list' | 'create'): { before?: Target } => {
      if (!before) return {};
      const url = `${before.url}${request === 'get' ? paths.get(beforeShareId) : paths[request]}`;
      return request === 'create'
        ? { before: { method: 'POST', url, body, status: 201, pid: bPid, reconciler: before } }
        : { before: { method: 'GET', url, status: 200, pid: bPid } };
    };
    const targets: Record<Request, Partial<Record<Server, Target>>> = {
      get: {
        floor: { method: 'GET', url: `${floorUrl}${paths.get(floor.shareId)}`, status: 200, pid: fPid },
        rshare: { method: 'GET', url: `${rshare.url}${paths.get(shareId)}`, status: 200, pid: rPid },
        bare: bare.get,
        ...beside('get'),
      },
      list: {
        floor: { method: 'GET', url: `${floorUrl}${paths.list}`, status: 200, pid: fPid },
        rshare: { method: 'GET', url: `${rshare.url}${paths.list}`, status: 200, pid: rPid },
        bare: bare.list,
        ...beside('list'),
      },
      create: {
        floor: { method: 'POST', url: `${floorUrl}${paths.create}`, body, status: 201, pid: fPid },
        rshare: {
          method: 'POST',
          url: `${rshare.url}${paths.create}`,
          body,
          status: 201,
          pid: rPid,
          reconciler: rshare,
        },
        bare: bare.create,
        ...beside('create'),
      },
      'create-api': {},
    };
    const samples: Sample[] = [];
    const dbCpuMs = cluster ? () => (cluster as BenchPostgres).cpuMs() : undefined;
    await measure(['get', 'list', 'create'], targets, samples, dbCpuMs);
    await rshare.stop(10_000);
    rshare = await startRshare(database, bootstrap, 'api', dist);
    const api = (server: ServerProcess): Target => ({
      method: 'POST',
      url: `${server.url}${paths.create}`,
      body,
      status: 201,
      pid: server.child.pid ?? 0,
    });
    targets['create-api'] = { ...targets.create, rshare: api(rshare) };
    if (before) {
      await before.stop(10_000);
      before = await startRshare(beforeDatabase, bootstrap, 'api', dist, against);
      targets['create-api'].before = api(before);
    }
    await measure(['create-api'], targets, samples, dbCpuMs);
    out[store] = {
      samples,
      bytes: Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, v.length])),
    };
    report(store, samples);
  } finally {
    await rshare?.stop(10_000);
    await before?.stop(10_000);
    await Promise.all([end(children.floor), ...children.bare.map((c) => end(c))]);
    cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const tableRows: string[][] = [];

/** A sample's CPU per request: the server's, plus the database cluster's on PostgreSQL. */
const cpu = (s: Sample): string =>
  s.dbCpuUsPerRequest === undefined
    ? `${fmt(s.cpuUsPerRequest)} µs`
    : `${fmt(s.cpuUsPerRequest)} + ${fmt(s.dbCpuUsPerRequest)} µs`;

let withBefore = false;

function report(store: StoreKind, samples: Sample[]): void {
  const best = (request: Request, server: Server): Sample | undefined =>
    samples
      .filter((s) => s.request === request && s.server === server)
      .reduce<Sample | undefined>((a, b) => (a === undefined || b.rps > a.rps ? b : a), undefined);
  for (const request of Object.keys(LABELS) as Request[]) {
    const [f, r, b] = (['floor', 'rshare', 'bare'] as const).map((s) => best(request, s));
    if (!f || !r || !b) continue;
    const ratio = r.rps / f.rps;
    // rshare against the floor in each round (the two run minutes apart at most): how far noise moves it.
    const paired = samples
      .filter((s) => s.request === request && s.server === 'rshare')
      .flatMap((s) => {
        const floor = samples.find(
          (o) => o.request === request && o.server === 'floor' && o.round === s.round,
        );
        return floor ? [s.rps / floor.rps] : [];
      });
    const spread = `rounds ${Math.min(...paired).toFixed(2)}–${Math.max(...paired).toFixed(2)}`;
    tableRows.push([
      store === 'sqlite' ? 'SQLite' : 'PostgreSQL',
      LABELS[request],
      `${fmt(b.rps)}`,
      `${fmt(f.rps)} (${cpu(f)})`,
      `${fmt(r.rps)} (${cpu(r)})`,
      `${ratio.toFixed(2)} (≥ ${TARGETS[request]}: ${ratio >= TARGETS[request] ? 'met' : 'MISSED'}; ${spread})`,
      (r.rps / b.rps).toFixed(2),
      ...(withBefore
        ? ((p) => (p ? [`${fmt(p.rps)} (${cpu(p)})`, (r.rps / p.rps).toFixed(2)] : ['', '']))(
            best(request, 'before'),
          )
        : []),
    ]);
  }
}

function printTable(): void {
  const head = [
    'store',
    'request',
    'bare req/s',
    'floor req/s (CPU/req)',
    'rshare req/s (CPU/req)',
    'rshare / floor',
    'rshare / bare',
    ...(withBefore ? ['before req/s (CPU/req)', 'rshare / before'] : []),
  ];
  const all = [head, ...tableRows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  say(`\n${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const r of tableRows) say(`${line(r)}\n`);
}

export async function runFloor(options: {
  stores: StoreKind[];
  dist: boolean;
  against?: string;
}): Promise<void> {
  withBefore = options.against !== undefined;
  const deadline = setTimeout(() => {
    process.stderr.write('bench --floor: exceeded its time bound, aborting\n');
    process.exit(2);
  }, 600_000 * options.stores.length);
  deadline.unref();
  const out: Record<string, unknown> = {
    when: new Date().toISOString(),
    load: LOAD,
    rounds: ROUNDS,
    loadAverageAtStart: loadavg(),
  };
  say(
    `rshare bench --floor: ${LOAD.connections} connections, ${LOAD.warmupMs / 1000} s warm-up + ${LOAD.durationMs / 1000} s, best of ${ROUNDS} alternating rounds\n`,
  );
  for (const store of options.stores) await runStore(store, options.dist, options.against, out);
  out.loadAverageAtEnd = loadavg();
  printTable();
  writeFileSync(join(HERE, 'floor-results.json'), `${JSON.stringify(out, null, 2)}\n`);
  clearTimeout(deadline);
}
