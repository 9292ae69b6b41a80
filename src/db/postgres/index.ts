import type pg from 'pg';
import type { Store } from '../store.js';
import { assertMigrated, createPool, migrate, type PoolOptions } from './database.js';
import { PgExcludedRecipientsStore } from './excluded-recipients.js';
import { PgInventoryStore } from './inventory.js';
import { PgReconcilerStore } from './reconciler.js';
import { PgRecipientsStore } from './recipients.js';
import { PgResourcesStore } from './resources.js';
import { PgSharesStore } from './shares.js';
import { PgStateStore } from './state.js';
import { PgTenancyStore } from './tenancy.js';

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly tenancy;
  readonly shares;
  readonly recipients;
  readonly resources;
  readonly excludedRecipients;
  readonly reconciler;
  readonly inventory;
  readonly state;

  constructor(readonly pool: pg.Pool) {
    this.tenancy = new PgTenancyStore(pool);
    this.shares = new PgSharesStore(pool);
    this.recipients = new PgRecipientsStore(pool);
    this.resources = new PgResourcesStore(pool);
    this.excludedRecipients = new PgExcludedRecipientsStore(pool);
    this.reconciler = new PgReconcilerStore(pool);
    this.inventory = new PgInventoryStore(pool);
    this.state = new PgStateStore(pool);
  }

  async ready(): Promise<void> {
    await assertMigrated(this.pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Connects to `url`, applying pending migrations under an advisory lock. */
export async function openPostgresStore(url: string, options: PoolOptions = {}): Promise<PostgresStore> {
  const pool = createPool(url, options);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new PostgresStore(pool);
}
