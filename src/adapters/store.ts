import type { AccountsStore } from '../cloudflare/accounts/store.js';
import type { AuditStore } from '../cloudflare/audit/store.js';
import type { ExcludedRecipientsStore } from '../cloudflare/excluded-recipients/store.js';
import type { InventoryStore } from '../cloudflare/inventory/store.js';
import type { RateLimitStore } from '../cloudflare/rate-limit/store.js';
import type { ReconcilerStore } from '../engine/reconciler/store.js';
import type { RecipientsStore } from '../cloudflare/recipients/store.js';
import type { ResourcesStore } from '../cloudflare/resources/store.js';
import type { SharesStore } from '../cloudflare/shares/store.js';
import type { SeedWriter } from '../emulator/seed/store.js';
import type { StateStore } from '../emulator/state/store.js';
import type { TenancyStore } from '../platform/tenancy/store.js';

/** Everything rshare persists, behind one interface that SQLite and PostgreSQL both implement. */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly tenancy: TenancyStore;
  readonly shares: SharesStore;
  readonly recipients: RecipientsStore;
  readonly resources: ResourcesStore;
  readonly excludedRecipients: ExcludedRecipientsStore;
  readonly reconciler: ReconcilerStore;
  readonly inventory: InventoryStore;
  /** Whole-store reset and snapshots, for test suites (the admin API). */
  readonly state: StateStore;
  /** Cloudflare-shaped audit logs (changes write theirs through the store method that makes them). */
  readonly audit: AuditStore;
  /** The accounts in a user's or token's scope, paged (Cloudflare's `GET /accounts`). */
  readonly accounts: AccountsStore;
  /** Request counters of `--rate-limit`, shared by every process on the database. */
  readonly rateLimits: RateLimitStore;
  /** The bulk writer of `rshare seed`: load-test data goes below the per-row store interfaces. */
  seedWriter(): Promise<SeedWriter>;
  /** Throws when the store cannot answer queries or its migrations are not applied. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
