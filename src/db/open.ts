import type { Store } from './store.js';
import { openSqliteStore } from './sqlite/index.js';

/** Opens the store named by a database URL: a SQLite file path (or `sqlite:` URL) for now. */
export async function openStore(database: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(database)) {
    throw new Error('PostgreSQL is not supported yet; use a SQLite file path');
  }
  const path = database.startsWith('sqlite:') ? database.slice('sqlite:'.length) : database;
  return openSqliteStore(path);
}
