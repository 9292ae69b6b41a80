import { migrate, openDatabase } from '../db/sqlite/database.js';
import { SqliteTenancyStore } from '../db/sqlite/tenancy.js';
import type { TenancyStore } from './store.js';

export interface AdminTenancyStore {
  store: TenancyStore;
  close(): void;
}

/**
 * Opens the tenancy store for one-shot admin commands, applying pending migrations so the CLI works on a
 * fresh database before the server has ever run.
 */
export function openAdminTenancyStore(databaseUrl: string): AdminTenancyStore {
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) throw new Error('PostgreSQL is not supported yet');
  const db = openDatabase(databaseUrl);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return { store: new SqliteTenancyStore(db), close: () => db.close() };
}
