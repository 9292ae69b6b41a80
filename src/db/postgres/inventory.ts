import type pg from 'pg';
import type { InventoryRow, InventoryStore } from '../../inventory/store.js';
import { named } from './database.js';

// `created` survives updates; an older version never overwrites a newer one.
const PUT = `INSERT INTO inventory (account_id, share_resource_id, share_id, resource_id, resource_type,
    resource_account_id, meta, resource_version, created, modified)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (account_id, share_resource_id) DO UPDATE SET meta = excluded.meta,
    resource_version = excluded.resource_version, modified = excluded.modified
  WHERE excluded.resource_version > inventory.resource_version`;

const REMOVE = 'DELETE FROM inventory WHERE account_id = $1 AND share_resource_id = $2';
const COUNT = 'SELECT COUNT(*) AS n FROM inventory WHERE account_id = $1';
// Named columns, never `*`: a prepared `SELECT *` fails once a migration adds a column (rolling upgrades).
const LIST = `SELECT account_id, share_resource_id, share_id, resource_id, resource_type, resource_account_id, meta,
    resource_version, created, modified
  FROM inventory WHERE account_id = $1
  ORDER BY created, share_resource_id LIMIT $2 OFFSET $3`;

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
