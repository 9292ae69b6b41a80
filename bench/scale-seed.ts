/**
 * The store of the latency matrix. Normally `rshare seed` writes it straight into the database (a
 * million shares in minutes, where the HTTP API would take hours). While a build has no `seed` command
 * the harness still runs: a small store of the same layout is created through the HTTP API instead,
 * and the run says so loudly, since its figures then say nothing about scale.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { ROOT } from '../test/support/process.js';
import { JsonClient } from './client.js';
import { benchId } from './fixtures.js';
import { CLI_LAYOUT, type SeedLayout } from './scale-expected.js';

export const SEED_TOKEN = 'rshare-bench-scale-seed-token-000001';

export interface Seeded {
  organization_id: string;
  account_ids: string[];
  token: string;
  /** Shares in the store, in all (each account sends and receives `shares / accounts`). */
  shares: number;
  via: 'rshare seed' | 'HTTP API (fallback)';
  /** Where each share went, to derive every list's exact total_count. */
  layout: SeedLayout;
  ms: number;
}

/** Runs `rshare seed`; undefined when this build has no such command. Bounded by `timeoutMs`. */
export async function seedWithCli(
  database: string,
  size: { accounts: number; shares: number },
  entry: 'src' | 'dist',
  timeoutMs: number,
  track: (kill: (() => void) | undefined) => void,
): Promise<Seeded | undefined> {
  const args = [
    ...(entry === 'dist' ? ['dist/cli.js'] : ['--import', 'tsx', 'src/cli.ts']),
    'seed',
    '--database',
    database,
    '--accounts',
    String(size.accounts),
    '--shares',
    String(size.shares),
    '--token',
    SEED_TOKEN,
    '--json',
  ];
  const started = performance.now();
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-20_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  track(undefined);
  if (code !== 0 && /unknown command 'seed'/.test(stderr)) return undefined;
  if (code !== 0) throw new Error(`rshare seed exited with ${String(code)}:\n${stderr.slice(-4000)}`);
  const printed = JSON.parse(stdout) as { organization_id: string; account_ids: string[]; token: string };
  return {
    ...printed,
    shares: size.shares,
    via: 'rshare seed',
    layout: CLI_LAYOUT,
    ms: performance.now() - started,
  };
}

/** The fallback's size: enough for every cell to have a first, middle and last page, quickly written. */
export const HTTP_SEED = { accounts: 10, shares: 3000 };

/** The fallback's tenancy (one organization, its accounts, one token over all), as a bootstrap file. */
export function writeSeedBootstrap(path: string): { organization_id: string; account_ids: string[] } {
  const organization_id = benchId('50', 1);
  const account_ids = Array.from({ length: HTTP_SEED.accounts }, (_, i) => benchId('51', i + 1));
  writeFileSync(
    path,
    JSON.stringify({
      organizations: [{ id: organization_id, name: 'Seeded org' }],
      accounts: account_ids.map((id, i) => ({ id, name: `Seeded account ${i}`, organization_id })),
      tokens: [
        {
          value: SEED_TOKEN,
          name: 'seed (edit)',
          accounts: account_ids,
          organizations: [organization_id],
          permissions: ['read', 'edit'],
        },
      ],
    }),
  );
  return { organization_id, account_ids };
}

/**
 * A layout like the seed's, through the API: share i is sent by account i mod N to account i+1 mod N, so
 * every account sends and receives M/N; the tag env alternates prod/dev by round of N shares.
 */
const HTTP_LAYOUT: SeedLayout = {
  owner: (i, n) => i % n,
  recipient: (i, n) => (i + 1) % n,
  prod: (i, n) => Math.floor(i / n) % 2 === 0,
};

export async function seedOverHttp(
  url: string,
  tenancy: { organization_id: string; account_ids: string[] },
): Promise<Seeded> {
  const started = performance.now();
  const client = new JsonClient(url, SEED_TOKEN, 8);
  const n = tenancy.account_ids.length;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < HTTP_SEED.shares; i = next++) {
      const owner = tenancy.account_ids[HTTP_LAYOUT.owner(i, n)] as string;
      await client.expect(201, 'POST', `/client/v4/accounts/${owner}/shares`, {
        name: `seeded share ${i}`,
        recipients: [{ recipient_account_id: tenancy.account_ids[HTTP_LAYOUT.recipient(i, n)] }],
        resources: [
          {
            resource_id: benchId('e1', i + 1),
            resource_type: 'custom-ruleset',
            resource_account_id: owner,
            meta: { seeded: i },
          },
        ],
        tags: { env: HTTP_LAYOUT.prod(i, n) ? 'prod' : 'dev' },
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    client.close();
  }
  return {
    ...tenancy,
    token: SEED_TOKEN,
    shares: HTTP_SEED.shares,
    via: 'HTTP API (fallback)',
    layout: HTTP_LAYOUT,
    ms: performance.now() - started,
  };
}
