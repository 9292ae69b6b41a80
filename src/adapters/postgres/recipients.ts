import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import { groupBy } from '../../lib/group-by.js';
import type pg from 'pg';
import { ConflictError } from '../../http/errors.js';
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
import { named, prefixed, transaction } from './database.js';
import { enqueue, enqueueMany, enqueueRecipientOf } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

const COLUMNS = 'id, share_id, account_id, desired_status, status, created, modified';

const INSERT = `INSERT INTO share_recipients (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`;

/** Inserts a recipient and queues the reconciler work to associate it (due at `due`), in the caller's transaction. */
export async function insertRecipient(client: pg.PoolClient, row: RecipientRow, due: number): Promise<void> {
  await client.query(
    named(INSERT, [
      row.id,
      row.share_id,
      row.account_id,
      row.desired_status,
      row.status,
      row.created,
      row.modified,
    ]),
  );
  await enqueue(client, 'recipient', row.id, due);
}

const INSERT_MANY = `INSERT INTO share_recipients (${COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
    $7::timestamptz[])`;
/** The same, but a row whose insert would violate a unique constraint is skipped (and not returned). */
const INSERT_MANY_NEW = `${INSERT_MANY} ON CONFLICT DO NOTHING RETURNING id`;

function columnsOf(rows: RecipientRow[]): unknown[] {
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.share_id),
    rows.map((r) => r.account_id),
    rows.map((r) => r.desired_status),
    rows.map((r) => r.status),
    rows.map((r) => r.created),
    rows.map((r) => r.modified),
  ];
}

/**
 * `insertRecipient` for many rows: one INSERT for the recipients and one for their reconciler work, in the
 * caller's transaction. A unique violation aborts the whole insert, as it would one row at a time.
 */
export async function insertRecipients(
  client: pg.PoolClient,
  rows: RecipientRow[],
  due: number,
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(named(INSERT_MANY, columnsOf(rows)));
  await enqueueMany(
    client,
    'recipient',
    rows.map((r) => r.id),
    due,
  );
}

/**
 * Like `insertRecipients`, but rows that would violate a unique constraint (an account already a recipient,
 * or listed twice) are left out, and the first of them, in input order, is returned; nothing is queued
 * then, as the caller is expected to roll back. Undefined when every row was inserted.
 */
async function insertRecipientsOrFirstDuplicate(
  client: pg.PoolClient,
  rows: RecipientRow[],
  due: number,
): Promise<RecipientRow | undefined> {
  if (rows.length === 0) return undefined;
  const { rows: inserted } = await client.query<{ id: string }>(named(INSERT_MANY_NEW, columnsOf(rows)));
  if (inserted.length < rows.length) {
    const ids = new Set(inserted.map((r) => r.id));
    return rows.find((r) => !ids.has(r.id));
  }
  await enqueueMany(
    client,
    'recipient',
    rows.map((r) => r.id),
    due,
  );
  return undefined;
}

const ASSOCIATE = `UPDATE share_recipients SET desired_status = 'associated', status = 'associating', modified = $1
  WHERE share_id = $2 AND account_id = $3 AND desired_status = 'disassociated'`;
const DISASSOCIATE = `UPDATE share_recipients
  SET desired_status = 'disassociated', status = 'disassociating', modified = $1
  WHERE share_id = $2 AND account_id = $3 AND desired_status = 'associated'`;

/** Moves one account's recipient toward associated or disassociated; a no-op when already heading there. */
export async function setDesired(
  client: pg.PoolClient,
  shareId: string,
  accountId: string,
  to: 'associated' | 'disassociated',
  modified: string,
  due: number,
): Promise<void> {
  const res = await client.query(
    named(to === 'associated' ? ASSOCIATE : DISASSOCIATE, [modified, shareId, accountId]),
  );
  if ((res.rowCount ?? 0) > 0) await enqueueRecipientOf(client, shareId, accountId, due);
}

const LOCK_SHARE = 'SELECT status FROM shares WHERE id = $1 FOR UPDATE';

/**
 * Whether the share is active, locking its row for the rest of the caller's transaction: every write on
 * a share checks this first, so concurrent writers (on any node) serialise per share.
 */
export async function shareIsActive(client: pg.PoolClient, shareId: string): Promise<boolean> {
  const { rows } = await client.query<{ status: string }>(named(LOCK_SHARE, [shareId]));
  return rows[0]?.status === 'active';
}

const BY_ID = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 AND id = $2`;
const BY_ACCOUNT = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 AND account_id = $2`;
const ALL = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 ORDER BY created, id`;
const RESOURCES_OF = `SELECT rr.recipient_id, sr.resource_id, COALESCE(rr.applied_version, 0) AS resource_version,
    rr.error, rr.terminal
  FROM recipient_resources rr JOIN share_resources sr ON sr.id = rr.share_resource_id
  WHERE rr.recipient_id = ANY($1::char(32)[])
  ORDER BY sr.created, sr.id`;

/** Each recipient's resources (`r`, the recipient row) as JSON built by PostgreSQL, oldest resource first. */
const RESOURCES_JSON = `(SELECT json_agg(json_build_object('resource_id', sr.resource_id,
    'resource_version', COALESCE(rr.applied_version, 0), 'error', rr.error, 'terminal', rr.terminal)
    ORDER BY sr.created, sr.id)
  FROM recipient_resources rr JOIN share_resources sr ON sr.id = rr.share_resource_id
  WHERE rr.recipient_id = r.id) AS resources`;

type RecipientRecord = RecipientRow & { resources?: RecipientResourceJson[] | null };

const resourcesOf = (r: RecipientRecord): RecipientResourceJson[] => r.resources ?? [];

export class PgRecipientsStore implements RecipientsStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly timing: WorkTiming = dueNow,
  ) {}

  async listFor(
    reader: ShareReader,
    shareId: string,
    page: RecipientPageQuery,
  ): Promise<RecipientPage | undefined> {
    // The share check, the total and the page (with each recipient's resources) in one round trip.
    const { rows } = await this.pool.query<RecipientRecord & { total: number }>(
      named(
        `SELECT c.total, ${prefixed('r', COLUMNS)}${page.includeResources ? `, ${RESOURCES_JSON}` : ''}
        FROM shares s
        CROSS JOIN LATERAL (SELECT COUNT(*) AS total FROM share_recipients WHERE share_id = s.id) c
        LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM share_recipients WHERE share_id = s.id
          ORDER BY created, id LIMIT $3 OFFSET $4) r ON true
        WHERE ${readableShare(reader.as, '$1', '$2')}`,
        [shareId, reader.accountId, page.limit, page.offset],
      ),
    );
    return recipientPage(rows, page.includeResources, resourcesOf);
  }

  async getFor(
    reader: ShareReader,
    shareId: string,
    id: string,
    includeResources: boolean,
  ): Promise<RecipientFound | undefined> {
    const { rows } = await this.pool.query<RecipientRecord>(
      named(
        `SELECT ${prefixed('r', COLUMNS)}${includeResources ? `, ${RESOURCES_JSON}` : ''} FROM shares s
        LEFT JOIN share_recipients r ON r.share_id = s.id AND r.id = $3
        WHERE ${readableShare(reader.as, '$1', '$2')}`,
        [shareId, reader.accountId, id],
      ),
    );
    return recipientFound(rows[0], includeResources, resourcesOf);
  }

  async get(shareId: string, id: string): Promise<RecipientRow | undefined> {
    return (await this.pool.query<RecipientRow>(named(BY_ID, [shareId, id]))).rows[0];
  }

  async getByAccount(shareId: string, accountId: string): Promise<RecipientRow | undefined> {
    return (await this.pool.query<RecipientRow>(named(BY_ACCOUNT, [shareId, accountId]))).rows[0];
  }

  async all(shareId: string): Promise<RecipientRow[]> {
    return (await this.pool.query<RecipientRow>(named(ALL, [shareId]))).rows;
  }

  /**
   * The changes were computed from a read outside this transaction; an account that a concurrent request
   * added first (the insert waits for it to commit) is answered as a conflict, and nothing is changed.
   */
  async apply(
    shareId: string,
    changes: RecipientChanges,
    modified: string,
    audit: readonly AuditEntry[] = [],
  ): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      if (!(await shareIsActive(client, shareId))) return false;
      const due = this.timing.dueAt();
      const duplicate = await insertRecipientsOrFirstDuplicate(client, changes.add, due);
      // Thrown inside the transaction, so it rolls back.
      if (duplicate)
        throw new ConflictError(`Account ${duplicate.account_id} is already a recipient of the share`);
      for (const accountId of changes.associate)
        await setDesired(client, shareId, accountId, 'associated', modified, due);
      for (const accountId of changes.disassociate)
        await setDesired(client, shareId, accountId, 'disassociated', modified, due);
      await insertAudit(client, audit);
      return true;
    });
  }

  async resourcesOf(recipientIds: string[]): Promise<Map<string, RecipientResourceRow[]>> {
    if (recipientIds.length === 0) return new Map();
    const { rows } = await this.pool.query<RecipientResourceRow>(named(RESOURCES_OF, [recipientIds]));
    return groupBy(rows, (r) => r.recipient_id);
  }
}
