import type { ErrorObject, ValidateFunction } from 'ajv';
import { RESOURCE_TYPES } from '../../lib/resource-types.js';
import type { DriverEntry } from './delivery.js';

/** One resource type as the server knows it: a built-in one, or one the resource-types file declares. */
export interface ResourceTypeDefinition {
  name: string;
  description?: string;
  /** The account entitlement a recipient needs to receive it (the type's name unless declared). */
  entitlement: string;
  /** The declared JSON Schema of `meta` (draft 2020-12); absent: any object, as for built-in types. */
  metaSchema?: Record<string, unknown> | boolean;
  /** Compiled `metaSchema`. */
  validateMeta?: ValidateFunction;
  /** Delivery settings declared with the type (`--drivers` still configures built-in types). */
  driver?: DriverEntry;
}

/** Why a meta was refused: the schema's first error, its pointer relative to the meta. */
export type MetaProblem = ErrorObject;

/**
 * The resource types of one server: built-in (Cloudflare's, unless the file turns them off) and declared.
 * Everything that lists or checks types reads this one object: request schemas, the OpenAPI document,
 * meta validation, entitlements, bootstrap, seed and the delivery drivers.
 */
export class ResourceTypeRegistry {
  private readonly byName: ReadonlyMap<string, ResourceTypeDefinition>;
  readonly names: readonly string[];
  /** The entitlement names an account may hold, in type order without repeats. */
  readonly entitlements: readonly string[];

  constructor(types: readonly ResourceTypeDefinition[]) {
    this.byName = new Map(types.map((t) => [t.name, t]));
    this.names = types.map((t) => t.name);
    this.entitlements = [...new Set(types.map((t) => t.entitlement))];
  }

  /** True when this is exactly Cloudflare's list with nothing declared (schemas are used as written). */
  get builtinOnly(): boolean {
    return this === BUILTIN_RESOURCE_TYPES;
  }

  get definitions(): readonly ResourceTypeDefinition[] {
    return [...this.byName.values()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): ResourceTypeDefinition | undefined {
    return this.byName.get(name);
  }

  /** The entitlement a recipient needs for `type`; a type the server no longer knows needs itself. */
  entitlementOf(type: string): string {
    return this.byName.get(type)?.entitlement ?? type;
  }

  isEntitlement(name: string): boolean {
    return this.entitlements.includes(name);
  }

  /** The first error of `meta` against the type's schema, if it has one and refuses it. */
  metaProblem(type: string, meta: unknown): MetaProblem | undefined {
    const validate = this.byName.get(type)?.validateMeta;
    if (!validate || validate(meta)) return undefined;
    return validate.errors?.[0] ?? { instancePath: '', schemaPath: '#', keyword: 'false schema', params: {} };
  }
}

/** Cloudflare's types and nothing else: the server's registry when no resource-types file is given. */
export const BUILTIN_RESOURCE_TYPES = new ResourceTypeRegistry(
  RESOURCE_TYPES.map((name) => ({ name, entitlement: name })),
);
