import { ENTITLEMENT_SLOT, RESOURCE_META_SLOT, RESOURCE_TYPE_SLOT } from '../../http/common-schemas.js';
import type { ResourceTypeRegistry } from './registry.js';

/** The OpenAPI extension on `meta` that holds each declared type's meta schema (the console reads it). */
export const META_SCHEMAS_EXTENSION = 'x-rshare-meta-schemas';

type Node = Record<string | symbol, unknown>;

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object';
}

function metaSchemas(registry: ResourceTypeRegistry): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  for (const t of registry.definitions) if (t.metaSchema !== undefined) schemas[t.name] = t.metaSchema;
  return schemas;
}

/**
 * A copy of `schema` (a route's schema, or any part of one) with the registry's types in every slot: the
 * `resource_type` enum, and on `meta` the declared meta schemas (as an extension, so request validation,
 * which is per type, stays with the services) and a description naming them. Symbol keys (TypeBox's
 * own marks) are kept. With only the built-in types the schema is returned as it is, so a server without
 * a resource-types file validates, serializes and documents exactly what it did before.
 */
export function bindResourceTypes<T>(schema: T, registry: ResourceTypeRegistry): T {
  if (registry.builtinOnly) return schema;
  const key = fingerprint(registry);
  let copies = copiesBy.get(key);
  if (!copies) {
    if (copiesBy.size >= MAX_CONFIGURATIONS) copiesBy.delete(copiesBy.keys().next().value as string);
    copiesBy.set(key, (copies = new WeakMap()));
  }
  return bindCopy(schema, registry, copies) as T;
}

/**
 * The copies made for each configuration, by original node: request validators are compiled once per
 * process and cached by schema object (see `validatorCompiler`), so servers started with the same
 * resource types (a test suite starts many) share one copy of each schema, and one compiled validator.
 * Configurations are bounded; past the bound the oldest one's copies are made again when needed.
 */
const MAX_CONFIGURATIONS = 16;
const copiesBy = new Map<string, WeakMap<object, unknown>>();

function fingerprint(registry: ResourceTypeRegistry): string {
  return JSON.stringify([registry.names, registry.entitlements, metaSchemas(registry)]);
}

function bindCopy(
  schema: unknown,
  registry: ResourceTypeRegistry,
  copies: WeakMap<object, unknown>,
): unknown {
  const schemas = metaSchemas(registry);
  const declared = Object.keys(schemas);
  const copy = (value: unknown): unknown => {
    if (!isNode(value)) return value;
    const done = copies.get(value);
    if (done !== undefined) return done;
    const out: Node = Array.isArray(value) ? ([] as unknown as Node) : {};
    copies.set(value, out);
    for (const key of Reflect.ownKeys(value)) out[key] = copy(value[key]);
    if (value[RESOURCE_TYPE_SLOT] === true) out.enum = [...registry.names];
    if (value[ENTITLEMENT_SLOT] === true) out.enum = [...registry.entitlements];
    if (value[RESOURCE_META_SLOT] === true && declared.length > 0) {
      out.description =
        `${String(value.description ?? '')} Declared types check it against their own schema (${declared.join(', ')}), given in ${META_SCHEMAS_EXTENSION}.`.trim();
      out[META_SCHEMAS_EXTENSION] = schemas;
    }
    return out;
  };
  return copy(schema);
}
