import type { SeedWriter } from '../emulator/seed/store.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/index.js';
import { SqliteSeedWriter } from './sqlite/seed.js';

/** The bulk writer of the store's own kind: seeding goes below the per-row store interfaces. */
export async function seedWriterFor(store: Store): Promise<SeedWriter> {
  if (store instanceof SqliteStore) return new SqliteSeedWriter(store.db);
  // Loaded lazily so SQLite deployments never load the PostgreSQL driver.
  const { PostgresStore } = await import('./postgres/index.js');
  if (store instanceof PostgresStore) {
    const { PgSeedWriter } = await import('./postgres/seed.js');
    return new PgSeedWriter(store.pool);
  }
  throw new Error(`seeding is not supported on this ${store.kind} store`);
}
