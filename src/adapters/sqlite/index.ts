import type Database from 'better-sqlite3';
import type { Store } from '../store.js';
import { SqliteAccountsStore } from './accounts.js';
import { SqliteAuditStore } from './audit.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';
import { assertMigrated, migrate, openDatabase } from './database.js';
import { SqliteExcludedRecipientsStore } from './excluded-recipients.js';
import { SqliteInventoryStore } from './inventory.js';
import { SqliteReconcilerStore } from './reconciler.js';
import { SqliteRateLimitStore } from './rate-limits.js';
import { SqliteRecipientsStore } from './recipients.js';
import { SqliteSeedWriter } from './seed.js';
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
  readonly audit;
  readonly accounts;
  readonly rateLimits;

  constructor(
    readonly db: Database.Database,
    timing: WorkTiming = dueNow,
  ) {
    this.tenancy = new SqliteTenancyStore(db, timing);
    this.shares = new SqliteSharesStore(db, timing);
    this.recipients = new SqliteRecipientsStore(db, timing);
    this.resources = new SqliteResourcesStore(db, timing);
    this.excludedRecipients = new SqliteExcludedRecipientsStore(db, timing);
    this.reconciler = new SqliteReconcilerStore(db);
    this.inventory = new SqliteInventoryStore(db);
    this.state = new SqliteStateStore(db);
    this.audit = new SqliteAuditStore(db);
    this.accounts = new SqliteAccountsStore(db);
    this.rateLimits = new SqliteRateLimitStore(db);
  }

  async ready(): Promise<void> {
    assertMigrated(this.db);
  }

  seedWriter(): Promise<SqliteSeedWriter> {
    return Promise.resolve(new SqliteSeedWriter(this.db));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export interface SqliteStoreOptions {
  /** When work queued by API changes becomes due (default: at once). */
  timing?: WorkTiming;
  /** See `OpenDatabaseOptions.onStatement`. */
  onStatement?: (sql: string) => void;
}

/** Opens (creating if needed) the SQLite file at `path`, applying pending migrations. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const db = openDatabase(path, { onStatement: options.onStatement });
  migrate(db);
  return new SqliteStore(db, options.timing);
}
