import type pg from 'pg';
import type { SeedWriter } from '../../emulator/seed/store.js';
import type { Store } from '../store.js';
import { PgAccountsStore } from './accounts.js';
import { PgAuditStore } from './audit.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';
import {
  assertMigrated,
  checkPoolerTimeout,
  createPool,
  DEFAULT_QUERY_TIMEOUT_MS,
  migrate,
  type PoolOptions,
} from './database.js';
import { PgExcludedRecipientsStore } from './excluded-recipients.js';
import { PgInventoryStore } from './inventory.js';
import { PgReconcilerStore } from './reconciler.js';
import { PgRateLimitStore } from './rate-limits.js';
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
  readonly audit;
  readonly accounts;
  readonly rateLimits;

  constructor(
    readonly pool: pg.Pool,
    timing: WorkTiming = dueNow,
  ) {
    this.tenancy = new PgTenancyStore(pool, timing);
    this.shares = new PgSharesStore(pool, timing);
    this.recipients = new PgRecipientsStore(pool, timing);
    this.resources = new PgResourcesStore(pool, timing);
    this.excludedRecipients = new PgExcludedRecipientsStore(pool, timing);
    this.reconciler = new PgReconcilerStore(pool);
    this.inventory = new PgInventoryStore(pool);
    this.state = new PgStateStore(pool);
    this.audit = new PgAuditStore(pool);
    this.accounts = new PgAccountsStore(pool);
    this.rateLimits = new PgRateLimitStore(pool);
  }

  async ready(): Promise<void> {
    await assertMigrated(this.pool);
  }

  async seedWriter(): Promise<SeedWriter> {
    // Loaded on demand: only `rshare seed` needs the bulk writer.
    const { PgSeedWriter } = await import('./seed.js');
    return new PgSeedWriter(this.pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface PostgresStoreOptions extends PoolOptions {
  /** When work queued by API changes becomes due (default: at once). */
  timing?: WorkTiming;
}

/** Connects to `url`, applying pending migrations under an advisory lock. */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const pool = createPool(url, options);
  try {
    // Refused before anything is written.
    if (options.pooler === 'transaction') {
      await checkPoolerTimeout(pool, options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
    }
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new PostgresStore(pool, options.timing);
}
