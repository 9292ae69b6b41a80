import type { InventoryStore } from '../../src/cloudflare/inventory/store.js';
import type { DriversFile } from '../../src/platform/resource-types/delivery.js';
import { buildDrivers } from '../../src/engine/reconciler/drivers/index.js';
import type { DriverRegistry } from '../../src/engine/reconciler/drivers/types.js';
import {
  Reconciler,
  type ReconcilerOptions,
  type ReconcilerStores,
} from '../../src/engine/reconciler/reconciler.js';

/** A reconciler's options in tests: the store carries its inventory, where the default drivers deliver. */
export type TestReconcilerOptions = Omit<ReconcilerOptions, 'store' | 'drivers'> & {
  store: ReconcilerStores & { readonly inventory: InventoryStore };
  /** Default: `testDrivers` over the store and clock (every resource type to the inventory). */
  drivers?: DriverRegistry;
};

/**
 * The one way tests build a reconciler: the options they care about (store, clock, drivers, ids, metrics,
 * logger, resource types, timings), the rest as the server's defaults.
 */
export function buildReconciler(options: TestReconcilerOptions): Reconciler {
  return new Reconciler({ ...options, drivers: options.drivers ?? testDrivers(options) });
}

/** The server's drivers over the test store: the inventory driver, or what `file` (or a type) names. */
export function testDrivers(
  base: Pick<TestReconcilerOptions, 'store' | 'clock' | 'resourceTypes'>,
  file: DriversFile = {},
): DriverRegistry {
  return buildDrivers(file, base.store.inventory, base.clock, base.resourceTypes);
}
