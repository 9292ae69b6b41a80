import type { AccountRow } from '../tenancy/store.js';
import type { RecipientRow, AssociationStatus } from '../recipients/store.js';
import type { ResourceRow } from '../resources/store.js';
import type { ShareRow } from '../shares/store.js';

export type WorkKind = 'recipient' | 'share' | 'organization';

export interface WorkItem {
  kind: WorkKind;
  id: string;
  generation: number;
  attempts: number;
}

/** What one recipient account holds of one shared resource, as the reconciler recorded it. */
export interface DeliveryState {
  share_resource_id: string;
  applied_version: number | null;
  error: string;
  terminal: boolean;
  error_version: number | null;
}

export interface RecipientContext {
  recipient: RecipientRow;
  share: ShareRow;
  account: AccountRow;
  /** Every resource of the share that is not yet `deleted`, plus deleted ones still delivered here. */
  resources: ResourceRow[];
  delivered: Map<string, DeliveryState>;
}

export interface ShareFinalization {
  /** Ids of the resources that went `deleting` → `deleted`. */
  deletedResources: string[];
  shareDeleted: boolean;
}

export interface ReconcilerStore {
  /** Leases up to `limit` due, unleased (or lease-expired) items to `owner` until `now + leaseMs`. */
  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<WorkItem[]>;
  /** Retires the item if nobody asked for it again meanwhile; otherwise leaves it due for another pass. */
  complete(owner: string, item: WorkItem): Promise<void>;
  /** Releases the lease and makes the item due again at `dueAt`. */
  retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void>;
  enqueue(kind: WorkKind, id: string): Promise<void>;
  pendingCount(): Promise<number>;

  recipientContext(recipientId: string): Promise<RecipientContext | undefined>;
  /** Writes (or with `null`, clears) the delivery state of one resource in one recipient account. */
  recordDelivery(
    recipientId: string,
    shareResourceId: string,
    state: Omit<DeliveryState, 'share_resource_id'> | null,
    modified: string,
  ): Promise<void>;
  /**
   * Moves a recipient from `from` to `to` unless the API changed it meanwhile (its status or desired
   * status no longer match), in which case the API has already asked for another pass.
   */
  setRecipientStatus(recipient: RecipientRow, to: AssociationStatus, modified: string): Promise<boolean>;
  /**
   * Once no recipient of the share has work pending: `deleting` resources that no recipient holds become
   * `deleted`, and a `deleting` share whose recipients are all disassociated becomes `deleted`.
   */
  finalizeShare(shareId: string, modified: string): Promise<ShareFinalization>;
  /**
   * Re-derives the recipients of the organization's active organization-targeted shares from its current
   * members and exclusions, and disassociates recipients of its account-targeted shares that left the
   * organization; returns how many recipients changed.
   */
  syncOrganization(organizationId: string, modified: string, newId: () => string): Promise<number>;
}
