import { Type, type Static } from '@sinclair/typebox';

/**
 * How a resource type's resources reach recipient accounts, as configuration declares it (the drivers
 * file, or a type's own entry in the resource types file). The engine's drivers carry it out.
 */
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
