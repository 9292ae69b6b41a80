import type { AuditEntry, AuditOf } from '../../platform/audit/entry.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import type { InventoryChanges } from '../../cloudflare/inventory/store.js';
import type { RecipientRow, AssociationStatus, DesiredStatus } from '../../cloudflare/recipients/store.js';
import type { ResourceRow } from '../../cloudflare/resources/store.js';
import type { ShareRow } from '../../cloudflare/shares/store.js';

export type WorkKind = 'recipient' | 'share' | 'organization';

export interface WorkItem {
  kind: WorkKind;
  id: string;
  generation: number;
  attempts: number;
}

/** An item's key in `ClaimOptions.skip`: unique, as kinds hold no colon. */
export const workKey = (item: { kind: WorkKind; id: string }): string => `${item.kind}:${item.id}`;

/** Narrows a claim (the default claim, without options, is the background loop's and stays the fast one). */
export interface ClaimOptions {
  /** Claims items whatever their due time (delayed or backing off); leases are still respected. */
  ignoreDelays?: boolean;
  /** Only the share's own 'share' item and the 'recipient' items of its recipients. */
  shareId?: string;
  /** Items not to claim, by `workKey`. */
  skip?: string[];
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

/** What a pass did for one claimed recipient item (see `settleRecipients`). */
export interface RecipientResult {
  item: WorkItem;
  /** The recipient as read at the start of the pass; undefined when it no longer exists. */
  recipient?: RecipientRow;
  writes: { shareResourceId: string; state: Omit<DeliveryState, 'share_resource_id'> | null }[];
  /** The status to move the recipient to, when it differs from `recipient.status`. */
  status?: AssociationStatus;
  retry?: { dueAt: number; error: string };
  /** Audit entries of the deliveries, written with them. */
  audit?: AuditEntry[];
  /** Audit entries of the status move, written only if the move happens. */
  moveAudit?: AuditEntry[];
}

/** One resource about to be delivered to one recipient. */
export interface PendingDelivery {
  recipientId: string;
  shareResourceId: string;
}

/** A share whose owner left its organization. */
export interface AbandonedShare {
  id: string;
  account_id: string;
  organization_id: string;
}

/** What an organization-targeted share's recipients are derived from, as the store read it. */
export interface OrganizationShareState {
  share: { id: string; account_id: string; organization_id: string };
  /** Accounts of the share's organization. */
  members: string[];
  /** Accounts excluded from the share. */
  excluded: string[];
  current: { account_id: string; desired_status: DesiredStatus }[];
}

/** A derivation to write: desired statuses to change, and new recipients (ids chosen by the planner). */
export interface RecipientsWrite {
  change: { accountId: string; to: DesiredStatus }[];
  add: { id: string; accountId: string }[];
}

export interface ShareFinalization {
  /** Ids of the resources that went `deleting` → `deleted`. */
  deletedResources: string[];
  shareDeleted: boolean;
}

export interface ReconcilerStore {
  /** Leases up to `limit` due, unleased (or lease-expired) items to `owner` until `now + leaseMs`. */
  claim(
    owner: string,
    now: number,
    leaseMs: number,
    limit: number,
    options?: ClaimOptions,
  ): Promise<WorkItem[]>;
  /** Retires the item if nobody asked for it again meanwhile; otherwise leaves it due for another pass. */
  complete(owner: string, item: WorkItem): Promise<void>;
  /**
   * Releases the lease and makes the item due again at `dueAt` (a newer request for it, made during the
   * pass, keeps the due time its enqueue gave it).
   */
  retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void>;
  /**
   * Writes `DELIVERY_IN_DOUBT` states for deliveries about to be made outside the store (in one
   * transaction), so a process killed between a delivery and `settleRecipients` leaves a state that a later
   * removal acts on. Deliveries into the store need none: they are written by `settleRecipients` itself.
   */
  recordInDoubt(deliveries: PendingDelivery[], modified: string): Promise<void>;
  /** Queues follow-up work of the reconciler itself, due at once (the change that caused it was already delayed). */
  enqueue(kind: WorkKind, id: string): Promise<void>;
  /** Items queued (due or not, leased or not); with `shareId`, only the share's and its recipients'. */
  pendingCount(shareId?: string): Promise<number>;

  /**
   * The contexts of many recipients at once (one query per store round trip, not per recipient), by
   * recipient id; ids of recipients that no longer exist are absent.
   */
  recipientContexts(recipientIds: string[]): Promise<Map<string, RecipientContext>>;
  /**
   * Records what one reconciler pass did for a batch of claimed recipient items, in one transaction:
   * the inventory writes of its in-store deliveries (as `InventoryStore.apply`), the delivery states it wrote (`null` clears one), each recipient's status move (made only if the API
   * did not change the recipient meanwhile: its status and desired status still match the row read), then
   * each item retired (`complete`) or, with `retry`, released to run again at `retry.dueAt`, and last the
   * 'share' items of `finalize` queued (after the items are retired, so the share pass sees none of them).
   * Returns the ids of the recipients whose status moved.
   */
  settleRecipients(
    owner: string,
    results: RecipientResult[],
    modified: string,
    finalize: readonly string[],
    inventory?: InventoryChanges,
  ): Promise<Set<string>>;
  /** What an active organization-targeted share's recipients derive from; undefined for any other share. */
  organizationShare(shareId: string): Promise<OrganizationShareState | undefined>;
  /**
   * Writes a plan made from `read` (desired-status changes, new recipients and their work) in one
   * transaction, unless the share's state differs from `read` by then (its members, exclusions or
   * recipients changed, or it is no longer an active organization share): then it writes nothing and
   * returns false, and the caller reads and plans again.
   */
  writeShareRecipients(
    read: OrganizationShareState,
    plan: RecipientsWrite,
    modified: string,
  ): Promise<boolean>;
  /** Ids of the organization's active organization-targeted shares. */
  organizationShares(organizationId: string): Promise<string[]>;
  /**
   * Once no recipient of the share has work pending: `deleting` resources that no recipient holds become
   * `deleted`, and a `deleting` share whose recipients are all disassociated becomes `deleted`.
   */
  finalizeShare(
    shareId: string,
    modified: string,
    audit?: AuditOf<ShareFinalization>,
  ): Promise<ShareFinalization>;
  /**
   * Follows the accounts that left the organization since the last call (consuming their departures):
   * disassociates their recipients of its account-targeted shares, and starts deleting the active shares
   * they own (Cloudflare removes what a departed account shared from every destination account), writing
   * `ownersLeft`'s entries for those shares in the same transaction. Returns how many things changed.
   */
  followDepartures(
    organizationId: string,
    modified: string,
    ownersLeft?: AuditOf<AbandonedShare[]>,
  ): Promise<number>;
}
