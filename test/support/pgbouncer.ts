import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { waitFor } from './process.js';
import { freePort } from './port.js';

/** Debian's PgBouncer, where the `pgbouncer` package puts it (or on PATH). */
export function findPgBouncer(): string | undefined {
  if (existsSync('/usr/sbin/pgbouncer')) return '/usr/sbin/pgbouncer';
  const which = spawnSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

export interface PgBouncer {
  /** `postgres://rshare@127.0.0.1:<port>/<database>` through the pooler. */
  url(database: string): string;
  port: number;
  /** Points every database at another server, as an HA tool does on failover: rewrites the ini, SIGHUP. */
  repoint(serverPort: number): Promise<void>;
  /** Everything PgBouncer logged. */
  log(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** PostgreSQL's port on 127.0.0.1 (user `rshare`, trusted). */
  serverPort: number;
  mode: 'session' | 'transaction';
  /** Server connections per database/user pair. */
  poolSize?: number;
}

/**
 * Starts PgBouncer with its own ini in a temporary directory, on a free loopback port, in front of a test
 * cluster. It refuses to run as root, so as root it runs as `postgres`, like the cluster.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const bin = findPgBouncer();
  if (!bin) throw new Error('pgbouncer not found (Debian: apt-get install pgbouncer)');
  const dir = mkdtempSync(join(tmpdir(), 'rshare-pgbouncer-'));
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  const asRoot = process.getuid?.() === 0;
  const write = (serverPort: number) => {
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = host=127.0.0.1 port=${serverPort} user=rshare`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = any',
        `pool_mode = ${options.mode}`,
        'max_client_conn = 1000',
        `default_pool_size = ${options.poolSize ?? 20}`,
        // Failover: try the (new) server again within a second, and give up on a dead one quickly.
        'server_login_retry = 1',
        'server_connect_timeout = 2',
        `logfile = ${join(dir, 'pgbouncer.log')}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        '',
      ].join('\n'),
    );
  };
  write(options.serverPort);
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', bin, ini], { stdio: 'ignore' })
    : spawn(bin, [ini], { stdio: 'ignore' });
  const pidOf = () => Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8').trim());
  // PgBouncer itself, by its pid file: as root the child is `runuser`, which a signal would not pass on.
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pidOf(), name);
    } catch {
      child.kill(name);
    }
  };
  const log = () => {
    try {
      return readFileSync(join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const url = (database: string) => `postgres://rshare@127.0.0.1:${port}/${database}`;
  try {
    await waitFor(
      `pgbouncer on port ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${log()}`);
        const c = new pg.Client({ connectionString: url('postgres'), connectionTimeoutMillis: 2000 });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } finally {
          await c.end().catch(() => {});
        }
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    signal('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    async repoint(serverPort: number) {
      const before = log().length;
      write(serverPort);
      process.kill(pidOf(), 'SIGHUP');
      // PgBouncer logs this as it reads the file again.
      await waitFor(
        'pgbouncer to reload',
        () => (log().slice(before).includes('got SIGHUP, re-reading config') ? true : undefined),
        {
          timeoutMs: 5000,
          intervalMs: 20,
        },
      );
    },
    log,
    async stop() {
      if (child.exitCode === null) {
        const exit = once(child, 'exit').catch(() => {});
        signal('SIGTERM');
        const timer = setTimeout(() => signal('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
