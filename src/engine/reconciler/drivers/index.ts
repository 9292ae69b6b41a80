import { Type, type Static } from '@sinclair/typebox';
import { readFile } from 'node:fs/promises';
import type { ResourceType } from '../../../http/common-schemas.js';
import {
  BUILTIN_RESOURCE_TYPES,
  type ResourceTypeRegistry,
} from '../../../platform/resource-types/registry.js';
import type { InventoryStore } from '../../../cloudflare/inventory/store.js';
import type { Clock } from '../../../lib/clock.js';
import { InventoryDriver } from './inventory.js';
import type { DeliveryDriver, DriverRegistry } from './types.js';
import { WebhookDriver } from './webhook.js';

export const WebhookEntry = Type.Object(
  {
    driver: Type.Literal('webhook'),
    url: Type.String({ pattern: '^https?://' }),
    secret: Type.String({ minLength: 16 }),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
  },
  { additionalProperties: false },
);
export const InventoryEntry = Type.Object(
  { driver: Type.Literal('inventory') },
  { additionalProperties: false },
);
export const DriverEntry = Type.Union([InventoryEntry, WebhookEntry]);
export type DriverEntry = Static<typeof DriverEntry>;

/** `{ "<resource type>": { "driver": "webhook", "url": ..., "secret": ..., "timeout_ms": 10000 } }`. */
export const DriversFile = Type.Record(Type.String(), DriverEntry);
export type DriversFile = Static<typeof DriversFile>;

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** Checks a drivers file; throws naming the offending entry. TypeBox's value module loads only here. */
export async function parseDrivers(
  file: unknown,
  source: string,
  types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
): Promise<DriversFile> {
  const { Value } = await import('@sinclair/typebox/value');
  if (!Value.Check(DriversFile, file)) {
    const first = Value.Errors(DriversFile, file).First();
    throw new Error(`drivers ${source}: ${first?.path || '/'}: ${first?.message ?? 'invalid'}`);
  }
  for (const type of Object.keys(file)) {
    if (!types.has(type)) {
      throw new Error(
        `drivers ${source}: /${type}: unknown resource type (expected one of ${types.names.join(', ')})`,
      );
    }
    if (types.get(type)?.driver) {
      throw new Error(`drivers ${source}: /${type}: its driver is set in the resource types file`);
    }
  }
  return file;
}

export async function loadDriversFile(
  path: string,
  types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
): Promise<DriversFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`drivers ${path}: cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`drivers ${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseDrivers(json, path, types);
}

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
