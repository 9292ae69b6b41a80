import type { ResourceType } from '../../../http/common-schemas.js';
import type { ResourceRow } from '../../../cloudflare/resources/store.js';
import type { InventoryChanges } from '../../../cloudflare/inventory/store.js';

/** One resource to apply to, or remove from, one recipient account. */
export interface Delivery {
  action: 'apply' | 'remove';
  share_id: string;
  recipient_id: string;
  recipient_account_id: string;
  /**
   * Changes whenever the API moves the recipient (removed, added back, resource changed) and stays put
   * while a delivery is retried, so idempotency keys dedupe retries but not a later association.
   */
  association: string;
  resource: ResourceRow;
}

/** Terminal failures are not retried until the resource or the recipient's entitlements change. */
export type DeliveryOutcome = { ok: true } | { ok: false; terminal: boolean; error: string };

export interface DeliveryDriver {
  readonly name: string;
  deliver(delivery: Delivery): Promise<DeliveryOutcome>;
  /**
   * In-process drivers only: many deliveries at once (one write for the batch), outcomes in input order.
   * Network drivers leave it out and get one `deliver` call per delivery, a bounded number at a time.
   */
  deliverMany?(deliveries: Delivery[]): Promise<DeliveryOutcome[]>;
  /**
   * Drivers that deliver into rshare's own store (the inventory): the writes many deliveries make, which
   * the reconciler commits in the transaction that records their outcomes, so none is ever in doubt and
   * a failed settle takes its deliveries back with it. Preferred to `deliverMany` where present.
   */
  stage?(deliveries: Delivery[]): StagedDeliveries;
}

/** Outcomes in input order, and the inventory writes of the successful deliveries. */
export interface StagedDeliveries {
  outcomes: DeliveryOutcome[];
  inventory: InventoryChanges;
}

/** Picks the driver for a resource type. */
export interface DriverRegistry {
  for(type: ResourceType): DeliveryDriver;
  /** True when every resource type goes to a driver with `deliverMany` (no network round trip). */
  readonly inProcess?: boolean;
}
