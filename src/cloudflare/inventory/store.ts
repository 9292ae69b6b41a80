import type { ResourceType } from '../../http/common-schemas.js';

/** A shared resource as materialised in a recipient account by the inventory driver. */
export interface InventoryRow {
  account_id: string;
  share_resource_id: string;
  share_id: string;
  resource_id: string;
  resource_type: ResourceType;
  resource_account_id: string;
  meta: Record<string, unknown>;
  resource_version: number;
  created: string;
  modified: string;
}

export type InventoryKey = Pick<InventoryRow, 'account_id' | 'share_resource_id'>;

/** Rows to put and rows to remove, written together; a row may not appear in both lists. */
export interface InventoryChanges {
  put: InventoryRow[];
  remove: InventoryKey[];
}

export interface InventoryStore {
  /** Idempotent: applying the same version twice changes nothing; a newer version replaces the row. */
  put(row: InventoryRow): Promise<void>;
  /** Idempotent: removing what is not there is fine. */
  remove(accountId: string, shareResourceId: string): Promise<void>;
  /** `put` and `remove` for many rows in one write (one transaction); each row as `put`/`remove` would. */
  apply(changes: InventoryChanges): Promise<void>;
  list(accountId: string, limit: number, offset: number): Promise<{ rows: InventoryRow[]; total: number }>;
}
