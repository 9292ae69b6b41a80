import type pg from 'pg';
import type { InventoryChanges, InventoryRow, InventoryStore } from '../../cloudflare/inventory/store.js';
import { named, transaction, type Queryable } from './database.js';

// `created` survives updates; an older version never overwrites a newer one.
const PUT = `INSERT INTO inventory (account_id, share_resource_id, share_id, resource_id, resource_type,
    resource_account_id, meta, resource_version, created, modified)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (account_id, share_resource_id) DO UPDATE SET meta = excluded.meta,
    resource_version = excluded.resource_version, modified = excluded.modified
  WHERE excluded.resource_version > inventory.resource_version`;

/** `PUT` for many rows: one array per column, rows at the same index; keys must be distinct. */
const PUT_MANY = `INSERT INTO inventory (account_id, share_resource_id, share_id, resource_id, resource_type,
    resource_account_id, meta, resource_version, created, modified)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
    $8::integer[], $9::timestamptz[], $10::timestamptz[])
  ON CONFLICT (account_id, share_resource_id) DO UPDATE SET meta = excluded.meta,
    resource_version = excluded.resource_version, modified = excluded.modified
  WHERE excluded.resource_version > inventory.resource_version`;
const REMOVE_MANY = `DELETE FROM inventory i USING unnest($1::text[], $2::text[]) AS k (account_id, share_resource_id)
  WHERE i.account_id = k.account_id AND i.share_resource_id = k.share_resource_id`;

const REMOVE = 'DELETE FROM inventory WHERE account_id = $1 AND share_resource_id = $2';
const COUNT = 'SELECT COUNT(*) AS n FROM inventory WHERE account_id = $1';
// Named columns, never `*`: a prepared `SELECT *` fails once a migration adds a column (rolling upgrades).
const LIST = `SELECT account_id, share_resource_id, share_id, resource_id, resource_type, resource_account_id, meta,
    resource_version, created, modified
  FROM inventory WHERE account_id = $1
  ORDER BY created, share_resource_id LIMIT $2 OFFSET $3`;

/** `InventoryStore.apply`'s writes, one statement per list, on `q` (the reconciler's settle, or `apply`). */
export async function writeInventory(q: Queryable, changes: InventoryChanges): Promise<void> {
  const { put, remove } = changes;
  if (put.length > 0) {
    await q.query(
      named(PUT_MANY, [
        put.map((r) => r.account_id),
        put.map((r) => r.share_resource_id),
        put.map((r) => r.share_id),
        put.map((r) => r.resource_id),
        put.map((r) => r.resource_type),
        put.map((r) => r.resource_account_id),
        put.map((r) => JSON.stringify(r.meta)),
        put.map((r) => r.resource_version),
        put.map((r) => r.created),
        put.map((r) => r.modified),
      ]),
    );
  }
  if (remove.length > 0) {
    await q.query(
      named(REMOVE_MANY, [remove.map((k) => k.account_id), remove.map((k) => k.share_resource_id)]),
    );
  }
}

export class PgInventoryStore implements InventoryStore {
  constructor(private readonly pool: pg.Pool) {}

  async put(row: InventoryRow): Promise<void> {
    await this.pool.query(
      named(PUT, [
        row.account_id,
        row.share_resource_id,
        row.share_id,
        row.resource_id,
        row.resource_type,
        row.resource_account_id,
        JSON.stringify(row.meta),
        row.resource_version,
        row.created,
        row.modified,
      ]),
    );
  }

  async apply(changes: InventoryChanges): Promise<void> {
    const { put, remove } = changes;
    // One statement needs no transaction of its own (and saves its two round trips).
    if (put.length === 0 || remove.length === 0) await writeInventory(this.pool, changes);
    else await transaction(this.pool, (client) => writeInventory(client, changes));
  }

  async remove(accountId: string, shareResourceId: string): Promise<void> {
    await this.pool.query(named(REMOVE, [accountId, shareResourceId]));
  }

  async list(
    accountId: string,
    limit: number,
    offset: number,
  ): Promise<{ rows: InventoryRow[]; total: number }> {
    const total = (await this.pool.query<{ n: number }>(named(COUNT, [accountId]))).rows[0]?.n ?? 0;
    if (offset >= total) return { rows: [], total };
    const { rows } = await this.pool.query<InventoryRow>(named(LIST, [accountId, limit, offset]));
    return { rows, total };
  }
}
