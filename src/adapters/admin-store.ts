import { openStore } from './open.js';
import type { PgPooler } from './pooler.js';
import type { TenancyStore } from '../platform/tenancy/store.js';

export interface AdminTenancyStore {
  store: TenancyStore;
  close(): Promise<void>;
}

/**
 * Opens the tenancy store for one-shot admin commands (SQLite file or PostgreSQL URL), applying pending
 * migrations so the CLI works on a fresh database before the server has ever run.
 */
export async function openAdminTenancyStore(
  databaseUrl: string,
  pgPooler?: PgPooler,
): Promise<AdminTenancyStore> {
  // One command runs one query at a time: a small pool is plenty.
  const store = await openStore(databaseUrl, { poolSize: 2, pgPooler });
  return { store: store.tenancy, close: () => store.close() };
}
