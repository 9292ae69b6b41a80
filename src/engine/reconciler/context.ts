import type { Clock } from '../../lib/clock.js';
import type { IdSource } from '../../lib/ids.js';
import type { ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import type { DriverRegistry } from './drivers/types.js';
import type { ReconcilerMetrics } from './metrics.js';
import type { ReconcileReport, ReconcilerLogger, ReconcilerStores, TransitionRecord } from './options.js';
import type { WorkItem } from './store.js';

/** What the parts of a pass (planning, delivery, settling) share: the reconciler's settings and services. */
export interface WorkContext {
  readonly store: ReconcilerStores;
  readonly clock: Clock;
  readonly drivers: DriverRegistry;
  readonly types: ResourceTypeRegistry;
  readonly ids: IdSource;
  readonly metrics: ReconcilerMetrics;
  readonly log: ReconcilerLogger;
  /** Deliveries made at once by drivers that take one at a time. */
  readonly concurrency: number;
  /** The wait before an item that failed `attempts` times runs again. */
  backoff(attempts: number): number;
}

/** One run over claimed batches: whose leases they are, and where what happens is recorded. */
export interface Pass {
  owner: string;
  report: ReconcileReport;
  /** Hears of every item released to run again after a retryable failure. */
  onRetry?: (item: WorkItem) => void;
}

export function newReport(): ReconcileReport {
  return { processed: 0, retried: 0, transitions: [] };
}

/** Records a status move in the pass's report and the metrics. */
export function recordTransition(context: WorkContext, report: ReconcileReport, t: TransitionRecord): void {
  report.transitions.push(t);
  context.metrics.transitions.inc({ entity: t.entity, from: t.from, to: t.to });
}
