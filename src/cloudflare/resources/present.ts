import type { ResourceObject } from './schemas.js';
import type { ResourceRow } from './store.js';

/** A resource as the API answers it; below both services that answer resources (shares and resources). */
export function toResourceObject(r: ResourceRow): ResourceObject {
  return {
    id: r.id,
    resource_id: r.resource_id,
    resource_type: r.resource_type,
    resource_account_id: r.resource_account_id,
    meta: r.meta,
    status: r.status,
    resource_version: r.resource_version,
    created: r.created,
    modified: r.modified,
  };
}
