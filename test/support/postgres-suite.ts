import type { TestContext } from 'node:test';
import { findPostgresBin, startPostgres, type PostgresOptions, type PostgresServer } from './postgres.js';

const SKIP = 'PostgreSQL binaries not found';

/** A suite's own throwaway cluster, or a loud skip of every test where PostgreSQL is not installed. */
export interface SuiteCluster {
  /** Starts the cluster (call in `before`); undefined, after saying so on stderr, without PostgreSQL. */
  start(options?: PostgresOptions): Promise<PostgresServer | undefined>;
  /** Skips the test when no cluster started; true when it did. */
  skipped(t: TestContext): boolean;
}

/** `label` names the suite in the skip banner, so a run without PostgreSQL says what it did not test. */
export function suiteCluster(label: string): SuiteCluster {
  let server: PostgresServer | undefined;
  return {
    async start(options) {
      if (!findPostgresBin()) {
        process.stderr.write(`\n*** ${label} tests SKIPPED: ${SKIP} ***\n\n`);
        return undefined;
      }
      server = await startPostgres(options);
      return server;
    },
    skipped(t) {
      if (server) return false;
      t.skip(SKIP);
      return true;
    },
  };
}
