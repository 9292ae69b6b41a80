import { Counter, Gauge, Registry } from 'prom-client';
import { isStoreUnavailable } from '../../lib/outage.js';
import type { ReconcilerStore } from './store.js';

/** Prometheus metrics of the reconciler, in a registry of their own so each app/test gets fresh ones. */
export class ReconcilerMetrics {
  readonly registry = new Registry();
  readonly transitions = new Counter({
    name: 'rshare_status_transitions_total',
    help: 'Status transitions made by the reconciler, by entity and from/to status.',
    labelNames: ['entity', 'from', 'to'] as const,
    registers: [this.registry],
  });
  readonly items = new Counter({
    name: 'rshare_reconcile_items_total',
    help: 'Reconciler work items processed, by kind and outcome (done, retry, error).',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'rshare_deliveries_total',
    help: 'Resource deliveries, by driver, action and outcome (ok, retryable, terminal).',
    labelNames: ['driver', 'action', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly storeUp = new Gauge({
    name: 'rshare_store_up',
    help: 'Whether the store answered the last reconciler pass (1) or was unavailable (0).',
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'rshare_reconciler_store_errors_total',
    help: 'Reconciler passes that ended because the store was unavailable.',
    registers: [this.registry],
  });

  constructor(store: ReconcilerStore) {
    this.storeUp.set(1);
    new Gauge({
      name: 'rshare_reconcile_pending',
      help: 'Reconciler work items waiting (due or backing off).',
      registers: [this.registry],
      async collect() {
        // During a store outage /metrics still answers (that is when it matters): the last count stays.
        try {
          this.set(await store.pendingCount());
        } catch (err) {
          if (!isStoreUnavailable(err)) throw err;
        }
      },
    });
  }
}
