/**
 * Sizes of `npm run bench -- --scale`: the full matrix (1,000,000 shares) and the quick one, which prints
 * the same rows on a smaller store with fewer samples so the harness can be checked in under two minutes.
 */
import type { LoadConfig } from './loadgen.js';

export interface ScaleConfig {
  quick: boolean;
  /** The seeded store of the latency matrix. */
  seed: { accounts: number; shares: number };
  matrix: {
    /** Requests per cell before measuring (not counted). */
    warmup: number;
    /** Measured requests per cell: 200 gives a p99 that is the second-worst answer, not the worst. */
    samples: number;
    /** A cell stops early after this long, whatever its count, so a slow store cannot stall the run. */
    cellBoundMs: number;
    /** Accounts (and, for the object cells, shares) each cell cycles over, so no answer is cached. */
    accounts: number;
    shares: number;
  };
  /** Accounts of the large organization of the tenancy, throughput and fan-out parts. */
  tenancyAccounts: number;
  /** Closed-loop load per measurement (forked load generator). */
  load: Pick<LoadConfig, 'connections' | 'warmupMs' | 'durationMs' | 'maxRequests'>;
  /** Alternating rounds per comparison; the best round of each side is compared. */
  rounds: number;
  wrk: { connections: number; seconds: number };
  /** Organization-targeted creates in the large organization, each followed by its full fan-out. */
  fanouts: number;
  fanoutBoundMs: number;
  /** The whole run is aborted (servers, clusters, temp files cleaned up) after this, per store. */
  abortMsPerStore: number;
}

export const FULL: ScaleConfig = {
  quick: false,
  seed: { accounts: 1000, shares: 1_000_000 },
  matrix: { warmup: 20, samples: 200, cellBoundMs: 20_000, accounts: 10, shares: 50 },
  tenancyAccounts: 20_000,
  load: { connections: 32, warmupMs: 1000, durationMs: 5000, maxRequests: 2_000_000 },
  rounds: 2,
  wrk: { connections: 32, seconds: 5 },
  fanouts: 2,
  fanoutBoundMs: 120_000,
  abortMsPerStore: 30 * 60_000,
};

export const QUICK: ScaleConfig = {
  quick: true,
  seed: { accounts: 100, shares: 20_000 },
  matrix: { warmup: 5, samples: 30, cellBoundMs: 1200, accounts: 4, shares: 20 },
  // A 20,000-account fan-out alone can take a minute on a busy 2-core machine.
  tenancyAccounts: 2000,
  load: { connections: 32, warmupMs: 200, durationMs: 800, maxRequests: 2_000_000 },
  rounds: 1,
  wrk: { connections: 32, seconds: 1 },
  fanouts: 1,
  fanoutBoundMs: 60_000,
  abortMsPerStore: 3 * 60_000,
};
