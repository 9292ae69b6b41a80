import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './port.js';

/** A throwaway PostgreSQL cluster started from the machine's own installation. */
export interface PostgresServer {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** Stops the cluster for good and deletes its files. */
  stop(): void;
  /** Stops the server at once (`pg_ctl stop -m immediate`, as a crash would), keeping its data and port. */
  halt(): void;
  /** Starts the halted server again on the same data directory and port (crash recovery runs first). */
  resume(): void;
  /** SIGKILLs the postmaster, as a machine failure would (unlike `halt`, no shutdown checkpoint at all). */
  crash(): void;
  dataDir: string;
}

export interface PostgresOptions {
  /**
   * Keep `synchronous_commit` on, so a commit acknowledged to a client survives `halt()` (off by default
   * for speed: with it off, the last commits before an immediate stop may be rolled back at restart).
   */
  durableCommits?: boolean;
  /** More server settings, `name=value` each (e.g. `synchronous_standby_names=*`). */
  settings?: string[];
}

/** `initdb`'s directory: on PATH, else the newest of Debian's /usr/lib/postgresql/<version>/bin. */
export function findPostgresBin(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    const initdb = execFileSync('readlink', ['-f', which.stdout.trim()], { encoding: 'utf8' }).trim();
    return initdb.replace(/\/initdb$/, '');
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged user. */
function runAs(): { user: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (id.status === 0) return { user, uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error('running as root and found no unprivileged user (postgres, nobody) to run PostgreSQL');
}

export interface StandbyServer extends PostgresServer {
  /** `pg_ctl promote`: the standby leaves recovery and takes writes (what an HA tool does on failover). */
  promote(): void;
}

interface Cluster {
  bin: string;
  dir: string;
  data: string;
  owner: ReturnType<typeof runAs>;
  run(cmd: string, args: string[]): void;
}

/** A fresh temporary directory owned by whoever runs PostgreSQL, and a way to run its binaries there. */
function newCluster(): Cluster {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL binaries (initdb, pg_ctl) not found');
  const dir = mkdtempSync(join(tmpdir(), 'rshare-pg-'));
  const owner = runAs();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = owner
      ? ['runuser', ['-u', owner.user, '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    const res = spawnSync(file, argv as string[], { encoding: 'utf8', cwd: dir });
    if (res.status !== 0) throw new Error(`${cmd} failed (${res.status}): ${res.stderr || res.stdout}`);
  };
  return { bin, dir, data: join(dir, 'data'), owner, run };
}

/** Starts the server on `cluster`'s data directory and returns the handle on it. */
async function serve(cluster: Cluster, options: PostgresOptions): Promise<PostgresServer> {
  const { dir, data, run } = cluster;
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    // A test cluster: durability is not what is under test, speed is welcome.
    '-c fsync=off',
    `-c synchronous_commit=${options.durableCommits ? 'on' : 'off'}`,
    '-c full_page_writes=off',
    ...(options.settings ?? []).map((s) => `-c ${s}`),
  ].join(' ');
  const start = () =>
    run('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const halt = () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  let stopped = false;
  let halted = false;
  return {
    url: `postgres://rshare@127.0.0.1:${port}/postgres`,
    port,
    dataDir: data,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (!halted) halt();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    halt() {
      if (stopped || halted) return;
      halt();
      halted = true;
    },
    resume() {
      if (stopped || !halted) return;
      start();
      halted = false;
    },
    crash() {
      if (stopped || halted) return;
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(pid, 'SIGKILL');
      // Its backends notice the postmaster's death and exit on their own; nothing restarts it.
      halted = true;
    },
  };
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const cluster = newCluster();
  cluster.run('initdb', [
    '-D',
    cluster.data,
    '-U',
    'rshare',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  return serve(cluster, options);
}

/**
 * A streaming standby of `primary` (`pg_basebackup -R`, which writes `primary_conninfo` and
 * `standby.signal`), started on its own port. The primary makes it synchronous with
 * `synchronous_standby_names`, so every commit it acknowledges is on the standby too.
 */
export async function startStandby(
  primary: PostgresServer,
  options: PostgresOptions = {},
): Promise<StandbyServer> {
  const cluster = newCluster();
  cluster.run('pg_basebackup', [
    '-D',
    cluster.data,
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'rshare',
    '-R',
    '-X',
    'stream',
    '--no-sync',
  ]);
  const server = await serve(cluster, options);
  return { ...server, promote: () => cluster.run('pg_ctl', ['-D', cluster.data, '-w', 'promote']) };
}
