import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type Database from 'better-sqlite3';
import type { ResourceType } from '../../http/common-schemas.js';
import type {
  ResourceListQuery,
  ResourceRow,
  ResourcesStore,
  TypeInUse,
} from '../../cloudflare/resources/store.js';
import { prepared } from './database.js';
import { readableShare } from '../share-reader.js';
import { checkedPage } from '../rows.js';
import type { ShareReader } from '../../cloudflare/shares/reader.js';
import { writeBatcher } from './group-commit.js';
import { shareIsActive } from './recipients.js';
import { enqueue, enqueueShareRecipients, resourceChanged } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

type Db = Database.Database;

/** A share_resources row as SQLite returns it: meta is JSON text. */
export type ResourceRecord = Omit<ResourceRow, 'meta'> & { meta: string };

export function toResourceRow(r: ResourceRecord): ResourceRow {
  return { ...r, meta: JSON.parse(r.meta) as Record<string, unknown> };
}

const INSERT = `INSERT INTO share_resources
  (id, share_id, resource_id, resource_type, resource_account_id, meta, status, resource_version, created, modified)
  VALUES (@id, @share_id, @resource_id, @resource_type, @resource_account_id, @meta, @status, @resource_version,
  @created, @modified)`;

export function insertResource(db: Db, row: ResourceRow): void {
  prepared(db, INSERT).run({ ...row, meta: JSON.stringify(row.meta) });
}

const BY_ID = 'SELECT * FROM share_resources WHERE share_id = ? AND id = ?';

const TYPES_IN_USE = `SELECT r.resource_type, COUNT(DISTINCT r.share_id) AS shares, COUNT(*) AS resources
  FROM share_resources r JOIN shares s ON s.id = r.share_id
  WHERE r.status <> 'deleted' AND s.status <> 'deleted'
  GROUP BY r.resource_type ORDER BY r.resource_type`;

export class SqliteResourcesStore implements ResourcesStore {
  /** API writes on this connection commit in groups (see group-commit.ts). */
  private readonly writes;

  constructor(
    private readonly db: Db,
    private readonly timing: WorkTiming = dueNow,
  ) {
    this.writes = writeBatcher(db);
  }

  async listFor(
    reader: ShareReader,
    shareId: string,
    q: ResourceListQuery,
  ): Promise<{ rows: ResourceRow[]; total: number } | undefined> {
    const where = ['share_id = @share'];
    const args: Record<string, unknown> = {
      share: shareId,
      acct: reader.accountId,
      limit: q.limit,
      offset: q.offset,
    };
    if (q.status) {
      where.push('status = @status');
      args.status = q.status;
    }
    if (q.resourceType) {
      where.push('resource_type = @type');
      args.type = q.resourceType;
    }
    const filter = where.join(' AND ');
    // The share check, the total and the page in one statement: no row when the share is hidden.
    const rows = prepared(
      this.db,
      `SELECT (SELECT COUNT(*) FROM share_resources WHERE ${filter}) AS total, r.* FROM shares s
       LEFT JOIN (SELECT * FROM share_resources WHERE ${filter} ORDER BY created, id LIMIT @limit OFFSET @offset) r
       WHERE ${readableShare(reader.as, '@share', '@acct')} ORDER BY r.created, r.id`,
    ).all(args) as (ResourceRecord & { total: number })[];
    return checkedPage(rows, toResourceRow);
  }

  async getFor(reader: ShareReader, shareId: string, id: string): Promise<{ row?: ResourceRow } | undefined> {
    const r = prepared(
      this.db,
      `SELECT r.* FROM shares s LEFT JOIN share_resources r ON r.share_id = s.id AND r.id = @id
       WHERE ${readableShare(reader.as, '@share', '@acct')}`,
    ).get({ share: shareId, acct: reader.accountId, id }) as ResourceRecord | undefined;
    if (!r) return undefined;
    return r.id === null ? {} : { row: toResourceRow(r) };
  }

  async typesInUse(): Promise<TypeInUse[]> {
    return prepared(this.db, TYPES_IN_USE).all() as TypeInUse[];
  }

  async get(shareId: string, id: string): Promise<ResourceRow | undefined> {
    const r = prepared(this.db, BY_ID).get(shareId, id) as ResourceRecord | undefined;
    return r && toResourceRow(r);
  }

  async findLive(shareId: string, type: ResourceType, resourceId: string): Promise<ResourceRow | undefined> {
    const r = prepared(
      this.db,
      `SELECT * FROM share_resources WHERE share_id = ? AND resource_type = ? AND resource_id = ? AND status <> 'deleted'`,
    ).get(shareId, type, resourceId) as ResourceRecord | undefined;
    return r && toResourceRow(r);
  }

  async add(row: ResourceRow, audit: readonly AuditEntry[] = []): Promise<'ok' | 'inactive' | 'duplicate'> {
    return this.writes.run(() => {
      if (!shareIsActive(this.db, row.share_id)) return 'inactive' as const;
      if (
        prepared(
          this.db,
          `SELECT 1 FROM share_resources WHERE share_id = ? AND resource_type = ? AND resource_id = ? AND status <> 'deleted'`,
        ).get(row.share_id, row.resource_type, row.resource_id)
      ) {
        return 'duplicate' as const;
      }
      insertResource(this.db, row);
      resourceChanged(this.db, row.share_id, row.modified, this.timing.dueAt());
      insertAudit(this.db, audit);
      return 'ok' as const;
    });
  }

  async updateMeta(
    current: ResourceRow,
    meta: Record<string, unknown>,
    modified: string,
    audit: readonly AuditEntry[],
  ): Promise<ResourceRow | 'inactive' | 'stale'> {
    const { share_id: shareId, id } = current;
    return this.writes.run(() => {
      if (!shareIsActive(this.db, shareId)) return 'inactive' as const;
      const changed = prepared(
        this.db,
        `UPDATE share_resources SET meta = ?, resource_version = resource_version + 1, modified = ?
         WHERE share_id = ? AND id = ? AND status = 'active' AND resource_version = ?`,
      ).run(JSON.stringify(meta), modified, shareId, id, current.resource_version).changes;
      if (changed === 0) return this.unchanged(shareId, id);
      resourceChanged(this.db, shareId, modified, this.timing.dueAt());
      insertAudit(this.db, audit);
      return toResourceRow(prepared(this.db, BY_ID).get(shareId, id) as ResourceRecord);
    });
  }

  async markDeleting(
    current: ResourceRow,
    modified: string,
    audit: readonly AuditEntry[],
  ): Promise<ResourceRow | 'inactive' | 'stale'> {
    const { share_id: shareId, id } = current;
    return this.writes.run(() => {
      if (!shareIsActive(this.db, shareId)) return 'inactive' as const;
      const changed = prepared(
        this.db,
        `UPDATE share_resources SET status = 'deleting', modified = ?
         WHERE share_id = ? AND id = ? AND status = 'active' AND resource_version = ?`,
      ).run(modified, shareId, id, current.resource_version).changes;
      if (changed === 0) return this.unchanged(shareId, id);
      const due = this.timing.dueAt();
      enqueueShareRecipients(this.db, shareId, due);
      enqueue(this.db, 'share', shareId, due);
      insertAudit(this.db, audit);
      return toResourceRow(prepared(this.db, BY_ID).get(shareId, id) as ResourceRecord);
    });
  }

  /** Why a versioned update changed nothing: still active means another change moved it on. */
  private unchanged(shareId: string, id: string): 'inactive' | 'stale' {
    const row = prepared(this.db, BY_ID).get(shareId, id) as ResourceRecord | undefined;
    return row?.status === 'active' ? 'stale' : 'inactive';
  }
}
