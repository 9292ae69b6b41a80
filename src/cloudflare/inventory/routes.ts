import { AccountParams, Collection } from '../../http/common-schemas.js';
import { okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import type { InventoryStore } from './store.js';
import { ListSharedResourcesQuery, SharedResourceObject } from './schemas.js';

/** rshare's own endpoint: what the inventory driver has applied in an account. */
export function inventoryRoutes(app: App, inventory: InventoryStore): void {
  app.get('/accounts/:account_id/shared-resources', {
    schema: {
      operationId: 'rshare-shared-resources-list',
      summary: 'List resources shared into this account (inventory driver)',
      tags: ['rshare'],
      params: AccountParams,
      querystring: ListSharedResourcesQuery,
      response: { 200: Collection(SharedResourceObject) },
    },
    config: { access: { scope: 'account', write: false } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { rows, total } = await inventory.list(req.params.account_id, page.limit, page.offset);
      const items = rows.map((r) => ({
        id: r.share_resource_id,
        share_id: r.share_id,
        resource_id: r.resource_id,
        resource_type: r.resource_type,
        resource_account_id: r.resource_account_id,
        meta: r.meta,
        resource_version: r.resource_version,
        created: r.created,
        modified: r.modified,
      }));
      return okPage(items, page, total);
    },
  });
}
