import { groupBy } from '../rows.js';
import type pg from 'pg';
import { ConflictError } from '../../http/errors.js';
import type {
  RecipientChanges,
  RecipientResourceRow,
  RecipientRow,
  RecipientsStore,
} from '../../recipients/store.js';
import { isUniqueViolation, transaction } from './database.js';
import { enqueue, enqueueRecipientOf } from './work.js';

const COLUMNS = 'id, share_id, account_id, desired_status, status, created, modified';

const INSERT = `INSERT INTO share_recipients (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`;

/** Inserts a recipient and queues the reconciler work to associate it, in the caller's transaction. */
export async function insertRecipient(client: pg.PoolClient, row: RecipientRow): Promise<void> {
  await client.query(INSERT, [
    row.id,
    row.share_id,
    row.account_id,
    row.desired_status,
    row.status,
    row.created,
    row.modified,
  ]);
  await enqueue(client, 'recipient', row.id);
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
): Promise<void> {
  const res = await client.query(to === 'associated' ? ASSOCIATE : DISASSOCIATE, [
    modified,
    shareId,
    accountId,
  ]);
  if ((res.rowCount ?? 0) > 0) await enqueueRecipientOf(client, shareId, accountId);
}

const LOCK_SHARE = 'SELECT status FROM shares WHERE id = $1 FOR UPDATE';

/**
 * Whether the share is active, locking its row for the rest of the caller's transaction: every write on
 * a share checks this first, so concurrent writers (on any node) serialise per share.
 */
export async function shareIsActive(client: pg.PoolClient, shareId: string): Promise<boolean> {
  const { rows } = await client.query<{ status: string }>(LOCK_SHARE, [shareId]);
  return rows[0]?.status === 'active';
}

const COUNT = 'SELECT COUNT(*) AS n FROM share_recipients WHERE share_id = $1';
const PAGE = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 ORDER BY created, id LIMIT $2 OFFSET $3`;
const BY_ID = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 AND id = $2`;
const BY_ACCOUNT = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 AND account_id = $2`;
const ALL = `SELECT ${COLUMNS} FROM share_recipients WHERE share_id = $1 ORDER BY created, id`;
const RESOURCES_OF = `SELECT rr.recipient_id, sr.resource_id, COALESCE(rr.applied_version, 0) AS resource_version,
    rr.error, rr.terminal
  FROM recipient_resources rr JOIN share_resources sr ON sr.id = rr.share_resource_id
  WHERE rr.recipient_id = ANY($1::char(32)[])
  ORDER BY sr.created, sr.id`;

export class PgRecipientsStore implements RecipientsStore {
  constructor(private readonly pool: pg.Pool) {}

  async list(
    shareId: string,
    limit: number,
    offset: number,
  ): Promise<{ rows: RecipientRow[]; total: number }> {
    const total = Number((await this.pool.query<{ n: number }>(COUNT, [shareId])).rows[0]?.n ?? 0);
    if (offset >= total) return { rows: [], total };
    const { rows } = await this.pool.query<RecipientRow>(PAGE, [shareId, limit, offset]);
    return { rows, total };
  }

  async get(shareId: string, id: string): Promise<RecipientRow | undefined> {
    return (await this.pool.query<RecipientRow>(BY_ID, [shareId, id])).rows[0];
  }

  async getByAccount(shareId: string, accountId: string): Promise<RecipientRow | undefined> {
    return (await this.pool.query<RecipientRow>(BY_ACCOUNT, [shareId, accountId])).rows[0];
  }

  async all(shareId: string): Promise<RecipientRow[]> {
    return (await this.pool.query<RecipientRow>(ALL, [shareId])).rows;
  }

  /**
   * The changes were computed from a read outside this transaction; a concurrent request that added the
   * same account first makes the insert hit the unique constraint, answered as a conflict.
   */
  async apply(shareId: string, changes: RecipientChanges, modified: string): Promise<boolean> {
    let adding: RecipientRow | undefined;
    try {
      return await transaction(this.pool, async (client) => {
        if (!(await shareIsActive(client, shareId))) return false;
        for (const row of changes.add) {
          adding = row;
          await insertRecipient(client, row);
        }
        adding = undefined;
        for (const accountId of changes.associate)
          await setDesired(client, shareId, accountId, 'associated', modified);
        for (const accountId of changes.disassociate)
          await setDesired(client, shareId, accountId, 'disassociated', modified);
        return true;
      });
    } catch (err) {
      if (adding && isUniqueViolation(err)) {
        throw new ConflictError(`Account ${adding.account_id} is already a recipient of the share`);
      }
      throw err;
    }
  }

  async resourcesOf(recipientIds: string[]): Promise<Map<string, RecipientResourceRow[]>> {
    if (recipientIds.length === 0) return new Map();
    const { rows } = await this.pool.query<RecipientResourceRow>(RESOURCES_OF, [recipientIds]);
    return groupBy(rows, (r) => r.recipient_id);
  }
}
