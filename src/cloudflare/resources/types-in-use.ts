import type { ResourcesStore } from './store.js';
import type { ResourceTypeRegistry } from '../../platform/resource-types/registry.js';

/**
 * Refuses to start when live shares hold a type the server no longer declares: their resources could be
 * neither validated nor delivered nor removed. Nothing is deleted; the operator puts the type back, or
 * deletes those shares with it still declared.
 */
export async function assertTypesInUseDeclared(
  resources: ResourcesStore,
  types: ResourceTypeRegistry,
  source: string,
): Promise<void> {
  const missing = (await resources.typesInUse()).filter((t) => !types.has(t.resource_type));
  if (missing.length === 0) return;
  const list = missing
    .map(
      (t) =>
        `${JSON.stringify(t.resource_type)} (${t.shares} live share${t.shares === 1 ? '' : 's'}, ` +
        `${t.resources} resource${t.resources === 1 ? '' : 's'})`,
    )
    .join(', ');
  throw new Error(
    `resource types ${source}: the store holds live shares of types it does not declare: ${list}; ` +
      'declare them again, or delete those shares while they are declared (nothing was deleted)',
  );
}
