import type Database from 'better-sqlite3';
import type { InventoryChanges, InventoryRow, InventoryStore } from '../../cloudflare/inventory/store.js';
import { prepared } from './database.js';

type Db = Database.Database;
type InventoryRecord = Omit<InventoryRow, 'meta'> & { meta: string };

function putRow(db: Db, row: InventoryRow): void {
  // `created` survives updates; an older version never overwrites a newer one.
  prepared(
    db,
    `INSERT INTO inventory (account_id, share_resource_id, share_id, resource_id, resource_type,
         resource_account_id, meta, resource_version, created, modified)
       VALUES (@account_id, @share_resource_id, @share_id, @resource_id, @resource_type, @resource_account_id,
         @meta, @resource_version, @created, @modified)
       ON CONFLICT (account_id, share_resource_id) DO UPDATE SET meta = excluded.meta,
         resource_version = excluded.resource_version, modified = excluded.modified
       WHERE excluded.resource_version > inventory.resource_version`,
  ).run({ ...row, meta: JSON.stringify(row.meta) });
}

function removeRow(db: Db, accountId: string, shareResourceId: string): void {
  prepared(db, 'DELETE FROM inventory WHERE account_id = ? AND share_resource_id = ?').run(
    accountId,
    shareResourceId,
  );
}

/** `InventoryStore.apply`'s writes, inside the caller's transaction (the reconciler's settle, or `apply`). */
export function writeInventory(db: Db, changes: InventoryChanges): void {
  for (const row of changes.put) putRow(db, row);
  for (const key of changes.remove) removeRow(db, key.account_id, key.share_resource_id);
}

export class SqliteInventoryStore implements InventoryStore {
  constructor(private readonly db: Db) {}

  async put(row: InventoryRow): Promise<void> {
    putRow(this.db, row);
  }

  async remove(accountId: string, shareResourceId: string): Promise<void> {
    removeRow(this.db, accountId, shareResourceId);
  }

  async apply(changes: InventoryChanges): Promise<void> {
    this.db.transaction(() => writeInventory(this.db, changes))();
  }

  async list(
    accountId: string,
    limit: number,
    offset: number,
  ): Promise<{ rows: InventoryRow[]; total: number }> {
    const { n: total } = prepared(this.db, 'SELECT COUNT(*) AS n FROM inventory WHERE account_id = ?').get(
      accountId,
    ) as { n: number };
    if (offset >= total) return { rows: [], total };
    const rows = prepared(
      this.db,
      'SELECT * FROM inventory WHERE account_id = ? ORDER BY created, share_resource_id LIMIT ? OFFSET ?',
    ).all(accountId, limit, offset) as InventoryRecord[];
    return { rows: rows.map((r) => ({ ...r, meta: JSON.parse(r.meta) as Record<string, unknown> })), total };
  }
}
