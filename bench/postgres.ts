/**
 * The PostgreSQL side of a bench run: a throwaway cluster from this machine's installation
 * (test/support/postgres.ts), one fresh database for the rshare server, and the cluster's CPU time.
 */
import pg from 'pg';
import { startPostgres } from '../test/support/postgres.js';
import { parentOf, treeCpuMsOf } from './proc.js';

export interface BenchPostgres {
  /** URL of the fresh, empty database the rshare server gets. */
  url: string;
  /** CPU time (ms) the whole cluster (postmaster, backends, background processes) has used so far. */
  cpuMs(): number;
  /** Another fresh database on the same cluster, for a second independent store; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the cluster and removes its files (synchronous, so it is usable in an abort path). */
  stop(): void;
}

const DATABASE = 'rshare_bench';

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const cluster = await startPostgres();
  try {
    const admin = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 10_000 });
    await admin.connect();
    let postmaster: number | undefined;
    try {
      await admin.query(`CREATE DATABASE ${DATABASE}`);
      const { rows } = await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Every backend is a child of the postmaster (read while this one is still alive).
      postmaster = parentOf(rows[0]?.pid ?? 0);
    } finally {
      await admin.end();
    }
    const url = new URL(cluster.url);
    url.pathname = `/${DATABASE}`;
    return {
      url: url.toString(),
      cpuMs: () => (postmaster === undefined ? Number.NaN : treeCpuMsOf(postmaster)),
      async createDatabase(name: string) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        const client = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 10_000 });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        const other = new URL(cluster.url);
        other.pathname = `/${name}`;
        return other.toString();
      },
      stop: () => cluster.stop(),
    };
  } catch (err) {
    cluster.stop();
    throw err;
  }
}
