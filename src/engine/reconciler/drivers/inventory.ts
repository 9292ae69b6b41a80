import type { InventoryChanges, InventoryRow, InventoryStore } from '../../../cloudflare/inventory/store.js';
import type { Clock } from '../../../lib/clock.js';
import type { Delivery, DeliveryDriver, DeliveryOutcome, StagedDeliveries } from './types.js';

/** The default driver: materialises shared resources in rshare's own per-account inventory. */
export class InventoryDriver implements DeliveryDriver {
  readonly name = 'inventory';
  constructor(
    private readonly inventory: InventoryStore,
    private readonly clock: Clock,
  ) {}

  async deliver(d: Delivery): Promise<DeliveryOutcome> {
    return (await this.deliverMany([d]))[0] as DeliveryOutcome;
  }

  /** Every delivery of the batch in one store write. */
  async deliverMany(ds: Delivery[]): Promise<DeliveryOutcome[]> {
    const { outcomes, inventory } = this.stage(ds);
    await this.inventory.apply(inventory);
    return outcomes;
  }

  /** The rows the batch writes, for the reconciler to commit with their outcomes (all succeed). */
  stage(ds: Delivery[]): StagedDeliveries {
    const inventory: InventoryChanges = { put: [], remove: [] };
    for (const d of ds) {
      if (d.action === 'remove')
        inventory.remove.push({ account_id: d.recipient_account_id, share_resource_id: d.resource.id });
      else inventory.put.push(this.row(d));
    }
    return { outcomes: ds.map(() => ({ ok: true })), inventory };
  }

  private row(d: Delivery): InventoryRow {
    const now = this.clock.timestamp();
    return {
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
    };
  }
}
