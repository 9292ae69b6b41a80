import { readFile } from 'node:fs/promises';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { RESOURCE_TYPES } from '../../lib/resource-types.js';
import { WebhookEntry, type DriverEntry } from './delivery.js';
import { BUILTIN_RESOURCE_TYPES, ResourceTypeRegistry, type ResourceTypeDefinition } from './registry.js';

/** Lowercase words joined by single hyphens, as Cloudflare's own type names are. */
export const TYPE_NAME_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';
const MAX_TYPE_NAME = 64;

const DeclaredType = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    meta_schema: Type.Optional(Type.Union([Type.Object({}), Type.Boolean()])),
    entitlement: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TYPE_NAME })),
    driver: Type.Optional(Type.Union([Type.Literal('inventory'), Type.Literal('webhook')])),
    url: Type.Optional(Type.String()),
    secret: Type.Optional(Type.String()),
    timeout_ms: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

/** The resource-types file (`--resource-types`, `RSHARE_RESOURCE_TYPES`, or `resourceTypes` in process). */
export const ResourceTypesFile = Type.Object(
  {
    builtin_types: Type.Optional(Type.Boolean({ default: true })),
    types: Type.Record(Type.String(), DeclaredType),
  },
  { additionalProperties: false },
);
export type ResourceTypesFile = Static<typeof ResourceTypesFile>;
type DeclaredType = Static<typeof DeclaredType>;

/** A problem in the file at a dotted path (`types.acme-dashboard.meta_schema`). */
class FileProblem extends Error {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
  }
}

function dotted(pointer: string): string {
  return (
    pointer.replace(/^\//, '').replaceAll('/', '.').replaceAll('~1', '/').replaceAll('~0', '~') || '(file)'
  );
}

async function checkShape(schema: TSchema, value: unknown, base: string): Promise<void> {
  const { Value } = await import('@sinclair/typebox/value');
  if (Value.Check(schema, value)) return;
  const first = Value.Errors(schema, value).First();
  const variants = (first?.schema as { anyOf?: { const?: unknown }[] } | undefined)?.anyOf;
  const message =
    first?.message === 'Unexpected property'
      ? 'unknown field'
      : variants?.every((v) => typeof v.const === 'string')
        ? `must be one of ${variants.map((v) => String(v.const)).join(', ')}`
        : variants
          ? 'must be a JSON Schema (an object or a boolean)'
          : (first?.message ?? 'invalid');
  throw new FileProblem(
    dotted(base + (first?.path ?? '')),
    message.charAt(0).toLowerCase() + message.slice(1),
  );
}

/**
 * JSON Schema 2020-12 for `meta`, strict so a misspelt keyword is refused at start rather than ignored.
 * One Ajv per file: Ajv keeps every compiled schema, and a test suite starts many servers.
 */
function metaCompiler(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false, allErrors: false });
  addFormats.default(ajv);
  return ajv;
}

function declaredDriver(path: string, entry: DeclaredType): DriverEntry | undefined {
  const { driver, url, secret, timeout_ms } = entry;
  if (driver === 'webhook') return { driver, url: url ?? '', secret: secret ?? '', timeout_ms };
  const stray = (['url', 'secret', 'timeout_ms'] as const).find((k) => entry[k] !== undefined);
  if (stray) throw new FileProblem(`${path}.${stray}`, 'only a webhook driver takes it');
  return driver === 'inventory' ? { driver } : undefined;
}

/**
 * Checks a resource-types document and builds the server's registry from it; throws naming the place in
 * the file (`resource types FILE: types.acme-dashboard.meta_schema: …`).
 */
export async function parseResourceTypes(file: unknown, source: string): Promise<ResourceTypeRegistry> {
  try {
    return await build(file);
  } catch (err) {
    if (err instanceof FileProblem) throw new Error(`resource types ${source}: ${err.message}`);
    throw err;
  }
}

async function build(file: unknown): Promise<ResourceTypeRegistry> {
  await checkShape(ResourceTypesFile, file, '');
  const doc = file as ResourceTypesFile;
  const builtin = doc.builtin_types ?? true;
  const declared = Object.entries(doc.types);
  if (!builtin && declared.length === 0)
    throw new FileProblem('types', 'declare at least one type when builtin_types is false');
  const ajv = metaCompiler();
  const types: ResourceTypeDefinition[] = builtin ? [...BUILTIN_RESOURCE_TYPES.definitions] : [];
  for (const [name, entry] of declared) {
    const path = `types.${name}`;
    if (name.length > MAX_TYPE_NAME || !new RegExp(TYPE_NAME_PATTERN).test(name))
      throw new FileProblem(
        path,
        `type names are lowercase words joined by hyphens, at most ${MAX_TYPE_NAME} characters`,
      );
    if (builtin && (RESOURCE_TYPES as readonly string[]).includes(name))
      throw new FileProblem(path, 'is a built-in type (set builtin_types to false to declare it yourself)');
    const entitlement = entry.entitlement ?? name;
    if (!new RegExp(TYPE_NAME_PATTERN).test(entitlement))
      throw new FileProblem(`${path}.entitlement`, 'entitlements are lowercase words joined by hyphens');
    const driver = declaredDriver(path, entry);
    if (driver?.driver === 'webhook') await checkShape(WebhookEntry, driver, `/types/${name}`);
    const definition: ResourceTypeDefinition = { name, entitlement };
    if (entry.description !== undefined) definition.description = entry.description;
    if (driver) definition.driver = driver;
    if (entry.meta_schema !== undefined) {
      const schema = entry.meta_schema as Record<string, unknown> | boolean;
      try {
        definition.validateMeta = ajv.compile(schema);
      } catch (err) {
        throw new FileProblem(`${path}.meta_schema`, (err as Error).message);
      }
      definition.metaSchema = schema;
    }
    types.push(definition);
  }
  return new ResourceTypeRegistry(types);
}

/** Reads a resource-types file and builds the registry (an invalid file throws, naming the place). */
export async function loadResourceTypesFile(path: string): Promise<ResourceTypeRegistry> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`resource types ${path}: cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`resource types ${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseResourceTypes(json, path);
}
