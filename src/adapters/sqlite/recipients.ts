import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type Database from 'better-sqlite3';
import type {
  RecipientChanges,
  RecipientFound,
  RecipientPage,
  RecipientPageQuery,
  RecipientResourceRow,
  RecipientRow,
  RecipientsStore,
} from '../../cloudflare/recipients/store.js';
import type { ShareReader } from '../../cloudflare/shares/reader.js';
import { readableShare } from '../share-reader.js';
import { recipientFound, recipientPage, type RecipientResourceJson } from '../rows.js';
import { groupBy } from '../../lib/group-by.js';
import { prepared } from './database.js';
import { writeBatcher } from './group-commit.js';
import { enqueue, enqueueRecipientOf } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

type Db = Database.Database;

const INSERT = `INSERT INTO share_recipients (id, share_id, account_id, desired_status, status, created, modified)
  VALUES (@id, @share_id, @account_id, @desired_status, @status, @created, @modified)`;

/** Inserts a recipient and queues the reconciler work to associate it (due at `due`), in the caller's transaction. */
export function insertRecipient(db: Db, row: RecipientRow, due: number): void {
  prepared(db, INSERT).run(row);
  enqueue(db, 'recipient', row.id, due);
}

const ASSOCIATE = `UPDATE share_recipients SET desired_status = 'associated', status = 'associating', modified = ?
  WHERE share_id = ? AND account_id = ? AND desired_status = 'disassociated'`;
const DISASSOCIATE = `UPDATE share_recipients SET desired_status = 'disassociated', status = 'disassociating', modified = ?
  WHERE share_id = ? AND account_id = ? AND desired_status = 'associated'`;

/** Moves one account's recipient toward associated or disassociated; a no-op when already heading there. */
export function setDesired(
  db: Db,
  shareId: string,
  accountId: string,
  to: 'associated' | 'disassociated',
  modified: string,
  due: number,
): void {
  if (
    prepared(db, to === 'associated' ? ASSOCIATE : DISASSOCIATE).run(modified, shareId, accountId).changes > 0
  ) {
    enqueueRecipientOf(db, shareId, accountId, due);
  }
}

export function shareIsActive(db: Db, shareId: string): boolean {
  const row = prepared(db, 'SELECT status FROM shares WHERE id = ?').get(shareId) as
    { status: string } | undefined;
  return row?.status === 'active';
}

/** Each recipient's resources (`r`, the recipient row) as JSON text built by SQLite, oldest resource first. */
const RESOURCES_JSON = `(SELECT json_group_array(json_object('resource_id', sr.resource_id,
    'resource_version', COALESCE(rr.applied_version, 0), 'error', rr.error,
    'terminal', json(CASE WHEN rr.terminal THEN 'true' ELSE 'false' END)) ORDER BY sr.created, sr.id)
  FROM recipient_resources rr JOIN share_resources sr ON sr.id = rr.share_resource_id
  WHERE rr.recipient_id = r.id) AS resources`;

type RecipientRecord = RecipientRow & { resources?: string | null };

const resourcesOf = (r: RecipientRecord): RecipientResourceJson[] =>
  JSON.parse(r.resources ?? '[]') as RecipientResourceJson[];

export class SqliteRecipientsStore implements RecipientsStore {
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
    page: RecipientPageQuery,
  ): Promise<RecipientPage | undefined> {
    // The share check, the total and the page (with each recipient's resources) in one statement.
    const rows = prepared(
      this.db,
      `SELECT (SELECT COUNT(*) FROM share_recipients WHERE share_id = @share) AS total,
         r.*${page.includeResources ? `, ${RESOURCES_JSON}` : ''}
       FROM shares s LEFT JOIN (SELECT * FROM share_recipients WHERE share_id = @share
         ORDER BY created, id LIMIT @limit OFFSET @offset) r
       WHERE ${readableShare(reader.as, '@share', '@acct')} ORDER BY r.created, r.id`,
    ).all({
      share: shareId,
      acct: reader.accountId,
      limit: page.limit,
      offset: page.offset,
    }) as (RecipientRecord & {
      total: number;
    })[];
    return recipientPage(rows, page.includeResources, resourcesOf);
  }

  async getFor(
    reader: ShareReader,
    shareId: string,
    id: string,
    includeResources: boolean,
  ): Promise<RecipientFound | undefined> {
    const record = prepared(
      this.db,
      `SELECT r.*${includeResources ? `, ${RESOURCES_JSON}` : ''} FROM shares s
       LEFT JOIN share_recipients r ON r.share_id = s.id AND r.id = @id
       WHERE ${readableShare(reader.as, '@share', '@acct')}`,
    ).get({ share: shareId, acct: reader.accountId, id }) as RecipientRecord | undefined;
    return recipientFound(record, includeResources, resourcesOf);
  }

  async get(shareId: string, id: string): Promise<RecipientRow | undefined> {
    return prepared(this.db, 'SELECT * FROM share_recipients WHERE share_id = ? AND id = ?').get(
      shareId,
      id,
    ) as RecipientRow | undefined;
  }

  async getByAccount(shareId: string, accountId: string): Promise<RecipientRow | undefined> {
    return prepared(this.db, 'SELECT * FROM share_recipients WHERE share_id = ? AND account_id = ?').get(
      shareId,
      accountId,
    ) as RecipientRow | undefined;
  }

  async all(shareId: string): Promise<RecipientRow[]> {
    return prepared(this.db, 'SELECT * FROM share_recipients WHERE share_id = ? ORDER BY created, id').all(
      shareId,
    ) as RecipientRow[];
  }

  async apply(
    shareId: string,
    changes: RecipientChanges,
    modified: string,
    audit: readonly AuditEntry[] = [],
  ): Promise<boolean> {
    return this.writes.run(() => {
      if (!shareIsActive(this.db, shareId)) return false;
      const due = this.timing.dueAt();
      for (const row of changes.add) insertRecipient(this.db, row, due);
      for (const accountId of changes.associate)
        setDesired(this.db, shareId, accountId, 'associated', modified, due);
      for (const accountId of changes.disassociate)
        setDesired(this.db, shareId, accountId, 'disassociated', modified, due);
      insertAudit(this.db, audit);
      return true;
    });
  }

  async resourcesOf(recipientIds: string[]): Promise<Map<string, RecipientResourceRow[]>> {
    const rows = prepared(
      this.db,
      `SELECT rr.recipient_id, sr.resource_id, COALESCE(rr.applied_version, 0) AS resource_version, rr.error, rr.terminal
       FROM recipient_resources rr JOIN share_resources sr ON sr.id = rr.share_resource_id
       WHERE rr.recipient_id IN (SELECT value FROM json_each(?))
       ORDER BY sr.created, sr.id`,
    ).all(JSON.stringify(recipientIds)) as (Omit<RecipientResourceRow, 'terminal'> & { terminal: number })[];
    return groupBy(
      rows.map((r) => ({ ...r, terminal: r.terminal === 1 })),
      (r) => r.recipient_id,
    );
  }
}
