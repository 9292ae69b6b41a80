import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './port.js';

export { freePort }; // bench/ imports it from here

/** The repository root (this file lives in test/support/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Calls `probe` every `intervalMs` until it returns something other than undefined, and returns that;
 * throws after `timeoutMs` with `what` and the last probe result or error, so waits are always bounded.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

export interface ServerProcessOptions {
  database: string;
  bootstrap?: string;
  port?: number;
  role?: 'api' | 'worker' | 'all';
  leaseMs?: number;
  pollMs?: number;
  logLevel?: string;
  /** Extra node flags placed before the entry point (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Extra `serve` options after the ones above (e.g. `['--pool-size', '10']`). */
  serveArgs?: string[];
  /**
   * `src` runs `src/cli.ts` through tsx (default); `dist` runs the compiled `dist/cli.js`; `bin` runs the
   * bundled `dist/bin/rshare.js` (both from `npm run build`, which `npm install` runs).
   */
  entry?: 'src' | 'dist' | 'bin';
  /** The checkout to run (default: this one); the bench runs an older checkout beside this one with it. */
  root?: string;
  /** How long to wait for /readyz. */
  readyTimeoutMs?: number;
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILLs the process (no cleanup in the child) and waits until it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after `graceMs`; waits until it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Waits (bounded) for the child to exit; true if it did. */
async function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const ac = new AbortController();
  const timer = sleep(timeoutMs, false, { signal: ac.signal }).catch(() => false);
  const done = once(child, 'exit').then(() => true);
  const result = await Promise.race([done, timer]);
  ac.abort();
  return result;
}

/**
 * Starts `rshare serve` as a child process (`node --import tsx src/cli.ts serve …`, cwd = repo root)
 * and resolves once /readyz answers 200. Rejects (after killing the child) if it exits or is not
 * ready within `readyTimeoutMs`.
 */
export async function startServer(options: ServerProcessOptions): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const args = [
    ...(options.nodeArgs ?? []),
    ...(options.entry === 'dist'
      ? ['dist/cli.js']
      : options.entry === 'bin'
        ? ['dist/bin/rshare.js']
        : ['--import', 'tsx', 'src/cli.ts']),
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--database',
    options.database,
    '--role',
    options.role ?? 'all',
    '--lease-ms',
    String(options.leaseMs ?? 1000),
    '--poll-ms',
    String(options.pollMs ?? 50),
    '--log-level',
    options.logLevel ?? 'warn',
    ...(options.bootstrap ? ['--bootstrap', options.bootstrap] : []),
    ...(options.serveArgs ?? []),
  ];
  const env = { ...process.env };
  // The command line is the whole configuration: no ambient DATABASE_URL, PORT, RSHARE_* etc. Except the
  // PostgreSQL pool size and pooler mode (`--pool-size`, `--pg-pooler`), which a run may set for every server
  // it starts.
  for (const name of ['DATABASE_URL', 'PORT', 'HOST', 'LOG_LEVEL']) delete env[name];
  for (const name of Object.keys(env)) {
    if (name.startsWith('RSHARE_') && name !== 'RSHARE_PG_POOL' && name !== 'RSHARE_PG_POOLER')
      delete env[name];
  }
  const child = spawn(process.execPath, args, {
    cwd: options.root ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = `http://127.0.0.1:${port}`;

  const server: ServerProcess = {
    child,
    port,
    url,
    output: () => output,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      if (!(await exited(child, 10_000))) throw new Error(`process ${child.pid} did not die after SIGKILL`);
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if (await exited(child, graceMs)) return;
      await server.kill();
    },
  };

  let ready: 'ready' | 'exited';
  try {
    ready = await waitFor(
      `${url}/readyz`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited' as const;
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return res.status === 200 ? ('ready' as const) : undefined;
      },
      { timeoutMs: options.readyTimeoutMs ?? 30_000, intervalMs: 50 },
    );
  } catch (err) {
    await server.kill();
    throw new Error(`${(err as Error).message}\nserver output:\n${output}`, { cause: err });
  }
  if (ready === 'exited') {
    throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
  }
  return server;
}

/** A resource as a recipient's `GET /accounts/{id}/shared-resources` lists it. */
export interface Held {
  id: string;
  share_id: string;
  resource_id: string;
  resource_type: string;
  resource_account_id: string;
  meta: Record<string, unknown>;
  resource_version: number;
}

/** The fields that identify what an account holds, in id order, for exact comparisons. */
export function heldView(items: readonly Held[]): Held[] {
  return items
    .map(({ id, share_id, resource_id, resource_type, resource_account_id, meta, resource_version }) => ({
      id,
      share_id,
      resource_id,
      resource_type,
      resource_account_id,
      meta,
      resource_version,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Writes a bootstrap file: one organization holding `accounts`, and one read+edit token over all of them. */
export function writeOrganizationBootstrap(
  path: string,
  o: { organization: string; name: string; accounts: readonly string[]; token: string },
): void {
  writeFileSync(
    path,
    JSON.stringify({
      organizations: [{ id: o.organization, name: o.name }],
      accounts: o.accounts.map((a, i) => ({ id: a, name: `Account ${i}`, organization_id: o.organization })),
      tokens: [
        {
          value: o.token,
          name: 'owner edit (all accounts)',
          accounts: o.accounts,
          organizations: [o.organization],
          permissions: ['read', 'edit'],
        },
      ],
    }),
  );
}
