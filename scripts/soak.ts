/**
 * `npm run soak`: the fuzzer with 10,000 hostile requests and the kill test with 20 SIGKILLs, on SQLite and
 * then on a throwaway PostgreSQL (skipped, loudly, without PostgreSQL binaries). Not part of `npm test`.
 * RSHARE_FUZZ_RUNS, RSHARE_FUZZ_SEED, RSHARE_KILL_COUNT and RSHARE_KILL_SEED still override.
 */
import { spawnSync } from 'node:child_process';
import { findPostgresBin, startPostgres } from '../test/support/postgres.js';

const FILES = ['test/fuzz.test.ts', 'test/kill.test.ts'];
const env: NodeJS.ProcessEnv = {
  ...process.env,
  RSHARE_FUZZ_RUNS: process.env.RSHARE_FUZZ_RUNS ?? '10000',
  RSHARE_KILL_COUNT: process.env.RSHARE_KILL_COUNT ?? '20',
};
delete env.RSHARE_TEST_PG_URL;

const run = (extra: NodeJS.ProcessEnv): number =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', ...FILES], {
    stdio: 'inherit',
    env: { ...env, ...extra },
  }).status ?? 1;

console.log(`Soak on SQLite: ${env.RSHARE_FUZZ_RUNS} fuzz requests, ${env.RSHARE_KILL_COUNT} kills`);
const sqlite = run({});

let postgres = 0;
if (!findPostgresBin()) {
  console.log('SKIPPED: the PostgreSQL soak (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin).');
} else {
  const pg = await startPostgres();
  try {
    console.log(`Soak on PostgreSQL (${pg.url})`);
    postgres = run({ RSHARE_TEST_PG_URL: pg.url });
  } finally {
    pg.stop();
  }
}
process.exit(sqlite || postgres);
