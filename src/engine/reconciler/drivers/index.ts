import type { ResourceType } from '../../../http/common-schemas.js';
import {
  BUILTIN_RESOURCE_TYPES,
  type ResourceTypeRegistry,
} from '../../../platform/resource-types/registry.js';
import { DEFAULT_WEBHOOK_TIMEOUT_MS, type DriversFile } from '../../../platform/resource-types/delivery.js';
import type { InventoryStore } from '../../../cloudflare/inventory/store.js';
import type { Clock } from '../../../lib/clock.js';
import { InventoryDriver } from './inventory.js';
import type { DeliveryDriver, DriverRegistry } from './types.js';
import { WebhookDriver } from './webhook.js';

/**
 * Every resource type goes to the inventory driver unless the drivers file, or the resource types file
 * for a declared type, names another.
 */
export function buildDrivers(
  config: DriversFile,
  inventory: InventoryStore,
  clock: Clock,
  types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
): DriverRegistry {
  const fallback = new InventoryDriver(inventory, clock);
  const byType = new Map<string, DeliveryDriver>();
  const declared = types.definitions.flatMap((t) => (t.driver ? [[t.name, t.driver] as const] : []));
  for (const [type, entry] of [...Object.entries(config), ...declared]) {
    byType.set(
      type,
      entry.driver === 'webhook'
        ? new WebhookDriver(
            {
              url: entry.url,
              secret: entry.secret,
              timeoutMs: entry.timeout_ms ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
            },
            clock,
          )
        : fallback,
    );
  }
  return {
    for: (type: ResourceType) => byType.get(type) ?? fallback,
    inProcess: [...byType.values()].every((d) => d.deliverMany !== undefined),
  };
}
