import type { InventoryStore } from '../../inventory/store.js';
import type { Clock } from '../../lib/clock.js';
import type { Delivery, DeliveryDriver, DeliveryOutcome } from './types.js';

/** The default driver: materialises shared resources in rshare's own per-account inventory. */
export class InventoryDriver implements DeliveryDriver {
  readonly name = 'inventory';
  constructor(
    private readonly inventory: InventoryStore,
    private readonly clock: Clock,
  ) {}

  async deliver(d: Delivery): Promise<DeliveryOutcome> {
    if (d.action === 'remove') {
      await this.inventory.remove(d.recipient_account_id, d.resource.id);
      return { ok: true };
    }
    const now = this.clock.timestamp();
    await this.inventory.put({
      account_id: d.recipient_account_id,
      share_resource_id: d.resource.id,
      share_id: d.share_id,
      resource_id: d.resource.resource_id,
      resource_type: d.resource.resource_type,
      resource_account_id: d.resource.resource_account_id,
      meta: d.resource.meta,
      resource_version: d.resource.resource_version,
      created: now,
      modified: now,
    });
    return { ok: true };
  }
}
