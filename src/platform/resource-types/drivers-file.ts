import { readFile } from 'node:fs/promises';
import { DriversFile } from './delivery.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from './registry.js';

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
