import type { Clock } from '../../lib/clock.js';
import type { IdSource } from '../../lib/ids.js';
import type { ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import type { SharesStore } from '../../cloudflare/shares/store.js';
import type { DriverRegistry } from './drivers/types.js';
import type { ReconcilerMetrics } from './metrics.js';
import type { ReconcilerStore } from './store.js';

/** The parts of the store this service uses (the server passes its whole store). */
export interface ReconcilerStores {
  readonly kind: 'sqlite' | 'postgres';
  readonly reconciler: ReconcilerStore;
  readonly shares: SharesStore;
}

export interface ReconcilerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReconcilerOptions {
  store: ReconcilerStores;
  clock: Clock;
  drivers: DriverRegistry;
  /** The server's resource types: which entitlement each needs (default: Cloudflare's, each itself). */
  resourceTypes?: ResourceTypeRegistry;
  /** Source of ids for recipients the reconciler creates (organization-targeted shares). */
  ids?: IdSource;
  metrics?: ReconcilerMetrics;
  logger?: ReconcilerLogger;
  /** Identifies this worker's leases; unique per process by default. */
  workerId?: string;
  /** How long a claimed item stays leased; a worker that dies loses its items after this. */
  leaseMs?: number;
  batchSize?: number;
  /** Items processed at once (matters for network drivers). */
  concurrency?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** The loop's first wait after a pass finds the store unavailable; doubles per failed pass. */
  outageBackoffBaseMs?: number;
  /** The loop's longest wait between passes while the store stays unavailable. */
  outageBackoffCapMs?: number;
  /** Source of jitter, injectable for tests. */
  random?: () => number;
}

export interface TransitionRecord {
  entity: 'recipient' | 'resource' | 'share';
  id: string;
  from: string;
  to: string;
}

export interface ReconcileReport {
  processed: number;
  retried: number;
  transitions: TransitionRecord[];
}

export interface ReconcileNowOptions {
  /** Only this share's own item and its recipients' items. */
  shareId?: string;
  /** At most this many items processed (each retry counts); default 100000. */
  maxSteps?: number;
}

export interface ReconcileNowResult {
  /** Items processed, retries included. */
  processed: number;
  /** Items still queued afterwards (only the share's, with `shareId`). */
  pending: number;
}
