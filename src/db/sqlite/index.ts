import type Database from 'better-sqlite3';
import type { Store } from '../store.js';
import { assertMigrated, migrate, openDatabase } from './database.js';
import { SqliteExcludedRecipientsStore } from './excluded-recipients.js';
import { SqliteInventoryStore } from './inventory.js';
import { SqliteReconcilerStore } from './reconciler.js';
import { SqliteRecipientsStore } from './recipients.js';
import { SqliteResourcesStore } from './resources.js';
import { SqliteSharesStore } from './shares.js';
import { SqliteStateStore } from './state.js';
import { SqliteTenancyStore } from './tenancy.js';

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly tenancy;
  readonly shares;
  readonly recipients;
  readonly resources;
  readonly excludedRecipients;
  readonly reconciler;
  readonly inventory;
  readonly state;

  constructor(readonly db: Database.Database) {
    this.tenancy = new SqliteTenancyStore(db);
    this.shares = new SqliteSharesStore(db);
    this.recipients = new SqliteRecipientsStore(db);
    this.resources = new SqliteResourcesStore(db);
    this.excludedRecipients = new SqliteExcludedRecipientsStore(db);
    this.reconciler = new SqliteReconcilerStore(db);
    this.inventory = new SqliteInventoryStore(db);
    this.state = new SqliteStateStore(db);
  }

  async ready(): Promise<void> {
    assertMigrated(this.db);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Opens (creating if needed) the SQLite file at `path`, applying pending migrations. */
export function openSqliteStore(path: string): SqliteStore {
  const db = openDatabase(path);
  migrate(db);
  return new SqliteStore(db);
}
