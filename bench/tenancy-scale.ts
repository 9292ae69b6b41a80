/**
 * Tenancy at scale: start time with a large bootstrap, GET share through a 1-account token vs a
 * token and a user scoped to every account, and share creation in a large vs a 3-account organization.
 *
 *   node --import tsx bench/tenancy-scale.ts [--store sqlite|postgres] [--accounts 20000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer, type ServerProcess } from '../test/support/process.js';
import { benchId } from './fixtures.js';
import { runLoad } from './loadgen.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    accounts: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    ms: { type: 'string', default: '1500' },
  },
});
const N = Number(values.accounts);
const ROUNDS = Number(values.rounds);
const MS = Number(values.ms);

const BIG = benchId('a0', 1);
const SMALL = benchId('a0', 2);
const big = Array.from({ length: N }, (_, i) => benchId('b0', i));
const small = [benchId('c0', 0), benchId('c0', 1), benchId('c0', 2)];
const ONE = 'bench-one-account-token-0000000001';
const ALL = 'bench-all-accounts-token-000000001';
const CREATOR = 'bench-creator-token-00000000000001';
const USER = { email: 'all@bench.test', key: 'bench-user-global-key-00000000001' };

function bootstrap(path: string): void {
  writeFileSync(
    path,
    JSON.stringify({
      organizations: [
        { id: BIG, name: 'Big' },
        { id: SMALL, name: 'Small' },
      ],
      accounts: [
        ...big.map((id, i) => ({ id, name: `Big ${i}`, organization_id: BIG })),
        ...small.map((id, i) => ({ id, name: `Small ${i}`, organization_id: SMALL })),
      ],
      users: [{ email: USER.email, api_key: USER.key, accounts: big, organizations: [BIG] }],
      tokens: [
        { value: ONE, name: 'one', accounts: [big[0]], permissions: ['read'] },
        { value: ALL, name: 'all', accounts: big, organizations: [BIG], permissions: ['read', 'edit'] },
        { value: CREATOR, name: 'creator', accounts: [big[0], small[0]], permissions: ['read', 'edit'] },
      ],
    }),
  );
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
function post(url: string, body: unknown, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function createRate(url: string, owner: string, recipient: string): Promise<number> {
  const stop = performance.now() + MS;
  let n = 0;
  let bad = 0;
  const worker = async () => {
    while (performance.now() < stop) {
      const status = await post(
        url,
        {
          name: `bench ${n}`,
          recipients: [{ recipient_account_id: recipient }],
          resources: [
            { resource_id: 'r1', resource_type: 'custom-ruleset', resource_account_id: owner, meta: {} },
          ],
        },
        { authorization: `Bearer ${CREATOR}` },
      );
      if (status === 201) n++;
      else bad++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  if (bad) throw new Error(`${bad} failed creates`);
  return n / (MS / 1000);
}

async function timedStart(database: string, file?: string): Promise<{ server: ServerProcess; ms: number }> {
  const t0 = performance.now();
  const server = await startServer({
    database,
    ...(file ? { bootstrap: file } : {}),
    logLevel: 'warn',
    readyTimeoutMs: 120_000,
    pollMs: 250,
    ...(process.env.BENCH_ROLE ? { role: process.env.BENCH_ROLE as 'api' } : {}),
  });
  return { server, ms: Math.round(performance.now() - t0) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rshare-tscale-'));
  let pg: BenchPostgres | undefined;
  try {
    const database =
      values.store === 'postgres' ? (pg = await startBenchPostgres()).url : join(dir, 'db.sqlite');
    const file = join(dir, 'bootstrap.json');
    bootstrap(file);
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '{}');
    const emptyDb = values.store === 'postgres' ? database : join(dir, 'empty.sqlite');
    if (values.store !== 'postgres') {
      const e = await timedStart(emptyDb, empty);
      await e.server.stop();
      console.log(`start, empty bootstrap (fresh db): ${e.ms} ms`);
    }
    const first = await timedStart(database, file);
    console.log(`start, ${N}-account bootstrap (fresh db): ${first.ms} ms`);
    await first.server.stop();
    const again = await timedStart(database, file);
    console.log(`start, same bootstrap re-applied: ${again.ms} ms`);
    const server = again.server;
    try {
      const api = `${server.url}/client/v4`;
      const status = await post(
        `${api}/accounts/${big[0]}/shares`,
        {
          name: 'target',
          recipients: [{ recipient_account_id: big[1] }],
          resources: [
            { resource_id: 'r0', resource_type: 'custom-ruleset', resource_account_id: big[0], meta: {} },
          ],
        },
        { authorization: `Bearer ${ALL}` },
      );
      if (status !== 201) throw new Error(`create: ${status}`);
      const list = (await (
        await fetch(`${api}/accounts/${big[0]}/shares`, { headers: { authorization: `Bearer ${ALL}` } })
      ).json()) as { result: { id: string }[] };
      const shareUrl = `${api}/accounts/${big[0]}/shares/${list.result[0]?.id}`;
      const principals: [string, Record<string, string>][] = [
        ['1-account token', { authorization: `Bearer ${ONE}` }],
        [`${N}-account token`, { authorization: `Bearer ${ALL}` }],
        [`${N}-account user`, { 'x-auth-email': USER.email, 'x-auth-key': USER.key }],
      ];
      const get: Record<string, number[]> = {};
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, headers] of principals) {
          const res = await runLoad({
            url: shareUrl,
            client: 'raw',
            headers,
            connections: 16,
            warmupMs: 200,
            durationMs: MS,
            maxRequests: 1e7,
          });
          if (res.non200 || res.errors)
            throw new Error(`${name}: ${res.non200} non-200, ${res.errors} errors`);
          (get[name] ??= []).push(res.rps);
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
      const base = median(get['1-account token'] ?? []);
      for (const [name, xs] of Object.entries(get)) {
        console.log(
          `GET share, ${name}: ${Math.round(median(xs))} req/s (ratio ${(median(xs) / base).toFixed(2)})`,
        );
      }
      const creates: Record<string, number[]> = { small: [], big: [] };
      for (let r = 0; r < ROUNDS; r++) {
        creates.small?.push(
          await createRate(`${api}/accounts/${small[0]}/shares`, small[0] as string, small[1] as string),
        );
        creates.big?.push(
          await createRate(`${api}/accounts/${big[0]}/shares`, big[0] as string, big[2] as string),
        );
      }
      const cs = median(creates.small ?? []);
      const cb = median(creates.big ?? []);
      console.log(
        `create, 3-account org: ${Math.round(cs)}/s; ${N}-account org: ${Math.round(cb)}/s (ratio ${(cb / cs).toFixed(2)})`,
      );
    } finally {
      await server.stop();
    }
  } finally {
    agent.destroy();
    pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
