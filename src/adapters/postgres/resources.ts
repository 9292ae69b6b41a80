import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type pg from 'pg';
import type { ResourceType } from '../../http/common-schemas.js';
import type {
  ResourceListQuery,
  ResourceRow,
  ResourcesStore,
  TypeInUse,
} from '../../cloudflare/resources/store.js';
import { isUniqueViolation, named, prefixed, transaction, type Queryable } from './database.js';
import { shareIsActive } from './recipients.js';
import { readableShare } from '../share-reader.js';
import { checkedPage } from '../rows.js';
import type { ShareReader } from '../../cloudflare/shares/reader.js';
import { enqueue, enqueueShareRecipients, resourceChanged } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

/** Columns of a share_resources row, in ResourceRow order; `meta` is jsonb, parsed by the driver. */
export const RESOURCE_COLUMNS = `id, share_id, resource_id, resource_type, resource_account_id, meta, status,
  resource_version, created, modified`;

/** PostgreSQL returns rows already shaped as ResourceRow; kept as the SQLite module's counterpart. */
export function toResourceRow(r: ResourceRow): ResourceRow {
  return r;
}

const INSERT = `INSERT INTO share_resources (${RESOURCE_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)`;

export async function insertResource(client: Queryable, row: ResourceRow): Promise<void> {
  await client.query(
    named(INSERT, [
      row.id,
      row.share_id,
      row.resource_id,
      row.resource_type,
      row.resource_account_id,
      JSON.stringify(row.meta),
      row.status,
      row.resource_version,
      row.created,
      row.modified,
    ]),
  );
}

const TYPES_IN_USE = `SELECT r.resource_type, COUNT(DISTINCT r.share_id)::int AS shares,
  COUNT(*)::int AS resources
  FROM share_resources r JOIN shares s ON s.id = r.share_id
  WHERE r.status <> 'deleted' AND s.status <> 'deleted'
  GROUP BY r.resource_type ORDER BY r.resource_type`;

const BY_ID = `SELECT ${RESOURCE_COLUMNS} FROM share_resources WHERE share_id = $1 AND id = $2`;
const FIND_LIVE = `SELECT ${RESOURCE_COLUMNS} FROM share_resources
  WHERE share_id = $1 AND resource_type = $2 AND resource_id = $3 AND status <> 'deleted'`;
const UPDATE_META = `UPDATE share_resources SET meta = $1::jsonb, resource_version = resource_version + 1, modified = $2
  WHERE share_id = $3 AND id = $4 AND status = 'active' AND resource_version = $5
  RETURNING ${RESOURCE_COLUMNS}`;
const STATUS_OF = 'SELECT status FROM share_resources WHERE share_id = $1 AND id = $2';
const MARK_DELETING = `UPDATE share_resources SET status = 'deleting', modified = $1
  WHERE share_id = $2 AND id = $3 AND status = 'active' AND resource_version = $4
  RETURNING ${RESOURCE_COLUMNS}`;

export class PgResourcesStore implements ResourcesStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly timing: WorkTiming = dueNow,
  ) {}

  async typesInUse(): Promise<TypeInUse[]> {
    return (await this.pool.query<TypeInUse>(named(TYPES_IN_USE))).rows;
  }

  async listFor(
    reader: ShareReader,
    shareId: string,
    q: ResourceListQuery,
  ): Promise<{ rows: ResourceRow[]; total: number } | undefined> {
    const params: unknown[] = [shareId, reader.accountId];
    const where = ['share_id = s.id'];
    if (q.status) where.push(`status = $${params.push(q.status)}`);
    if (q.resourceType) where.push(`resource_type = $${params.push(q.resourceType)}`);
    const filter = where.join(' AND ');
    const limit = `$${params.push(q.limit)}`;
    const offset = `$${params.push(q.offset)}`;
    // The share check, the total and the page in one round trip: no row when the share is hidden.
    const { rows } = await this.pool.query<ResourceRow & { total: number }>(
      named(
        `SELECT c.total, ${prefixed('r', RESOURCE_COLUMNS)} FROM shares s
        CROSS JOIN LATERAL (SELECT COUNT(*) AS total FROM share_resources WHERE ${filter}) c
        LEFT JOIN LATERAL (SELECT ${RESOURCE_COLUMNS} FROM share_resources WHERE ${filter}
          ORDER BY created, id LIMIT ${limit} OFFSET ${offset}) r ON true
        WHERE ${readableShare(reader.as, '$1', '$2')}`,
        params,
      ),
    );
    return checkedPage(rows, (row) => row);
  }

  async getFor(reader: ShareReader, shareId: string, id: string): Promise<{ row?: ResourceRow } | undefined> {
    const { rows } = await this.pool.query<ResourceRow>(
      named(
        `SELECT ${prefixed('r', RESOURCE_COLUMNS)} FROM shares s
        LEFT JOIN share_resources r ON r.share_id = s.id AND r.id = $3
        WHERE ${readableShare(reader.as, '$1', '$2')}`,
        [shareId, reader.accountId, id],
      ),
    );
    const [row] = rows;
    if (!row) return undefined;
    return row.id === null ? {} : { row };
  }

  async get(shareId: string, id: string): Promise<ResourceRow | undefined> {
    return (await this.pool.query<ResourceRow>(named(BY_ID, [shareId, id]))).rows[0];
  }

  async findLive(shareId: string, type: ResourceType, resourceId: string): Promise<ResourceRow | undefined> {
    return (await this.pool.query<ResourceRow>(named(FIND_LIVE, [shareId, type, resourceId]))).rows[0];
  }

  async add(row: ResourceRow, audit: readonly AuditEntry[] = []): Promise<'ok' | 'inactive' | 'duplicate'> {
    try {
      return await transaction(this.pool, async (client) => {
        if (!(await shareIsActive(client, row.share_id))) return 'inactive' as const;
        const live = await client.query(named(FIND_LIVE, [row.share_id, row.resource_type, row.resource_id]));
        if (live.rows.length > 0) return 'duplicate' as const;
        await insertResource(client, row);
        await resourceChanged(client, row.share_id, row.modified, this.timing.dueAt());
        await insertAudit(client, audit);
        return 'ok' as const;
      });
    } catch (err) {
      // Only reachable if a writer added the same resource without holding the share lock.
      if (isUniqueViolation(err)) return 'duplicate';
      throw err;
    }
  }

  async updateMeta(
    current: ResourceRow,
    meta: Record<string, unknown>,
    modified: string,
    audit: readonly AuditEntry[],
  ): Promise<ResourceRow | 'inactive' | 'stale'> {
    const { share_id: shareId, id } = current;
    return transaction(this.pool, async (client) => {
      if (!(await shareIsActive(client, shareId))) return 'inactive' as const;
      const { rows } = await client.query<ResourceRow>(
        named(UPDATE_META, [JSON.stringify(meta), modified, shareId, id, current.resource_version]),
      );
      const updated = rows[0];
      if (!updated) return unchanged(client, shareId, id);
      await resourceChanged(client, shareId, modified, this.timing.dueAt());
      await insertAudit(client, audit);
      return updated;
    });
  }

  async markDeleting(
    current: ResourceRow,
    modified: string,
    audit: readonly AuditEntry[],
  ): Promise<ResourceRow | 'inactive' | 'stale'> {
    const { share_id: shareId, id } = current;
    return transaction(this.pool, async (client) => {
      if (!(await shareIsActive(client, shareId))) return 'inactive' as const;
      const { rows } = await client.query<ResourceRow>(
        named(MARK_DELETING, [modified, shareId, id, current.resource_version]),
      );
      const updated = rows[0];
      if (!updated) return unchanged(client, shareId, id);
      const due = this.timing.dueAt();
      await enqueueShareRecipients(client, shareId, due);
      await enqueue(client, 'share', shareId, due);
      await insertAudit(client, audit);
      return updated;
    });
  }
}

/** Why a versioned update changed nothing: still active means another change moved it on. */
async function unchanged(client: Queryable, shareId: string, id: string): Promise<'inactive' | 'stale'> {
  const { rows } = await client.query<{ status: string }>(named(STATUS_OF, [shareId, id]));
  return rows[0]?.status === 'active' ? 'stale' : 'inactive';
}
