/**
 * Starts the rshare server child for a bench run. Like `startServer` of test/support/process.ts (which it
 * reuses for the port and the bounded waits), plus `serve` options that helper does not pass, such as
 * `--pool-size`. The child's environment carries no DATABASE_URL, RSHARE_* etc.: the command line is the
 * whole configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT, waitFor, type ServerProcess } from '../test/support/process.js';

export interface BenchServerOptions {
  /** A SQLite path or a postgres:// URL. */
  database: string;
  bootstrap: string;
  entry: 'src' | 'dist';
  leaseMs: number;
  pollMs: number;
  logLevel: string;
  /** `serve` options after the ones above, e.g. `['--pool-size', '10']`. */
  serveArgs?: string[];
  /** Node flags placed before the entry point (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  readyTimeoutMs: number;
}

async function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const ac = new AbortController();
  const timer = sleep(timeoutMs, false, { signal: ac.signal }).catch(() => false);
  const result = await Promise.race([once(child, 'exit').then(() => true), timer]);
  ac.abort();
  return result;
}

/** Spawns `rshare serve` on a free port of 127.0.0.1 and resolves once /readyz answers 200. */
export async function startBenchServer(options: BenchServerOptions): Promise<ServerProcess> {
  const port = await freePort();
  const args = [
    ...(options.nodeArgs ?? []),
    ...(options.entry === 'dist' ? ['dist/cli.js'] : ['--import', 'tsx', 'src/cli.ts']),
    'serve',
    ...['--host', '127.0.0.1', '--port', String(port), '--database', options.database],
    ...['--role', 'all', '--lease-ms', String(options.leaseMs), '--poll-ms', String(options.pollMs)],
    ...['--log-level', options.logLevel, '--bootstrap', options.bootstrap],
    ...(options.serveArgs ?? []),
  ];
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'PORT', 'HOST', 'LOG_LEVEL']) delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith('RSHARE_')) delete env[name];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      { timeoutMs: options.readyTimeoutMs, intervalMs: 50 },
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
