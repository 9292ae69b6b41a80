import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type pg from 'pg';
import type {
  ExcludedRecipientRow,
  ExcludedRecipientsStore,
  ExclusionChanges,
} from '../../cloudflare/excluded-recipients/store.js';
import { ConflictError } from '../../http/errors.js';
import { isUniqueViolation, named, transaction } from './database.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';
import { insertRecipient, setDesired, shareIsActive } from './recipients.js';

const COLUMNS = 'id, share_id, account_id, created, modified';

const COUNT = 'SELECT COUNT(*) AS n FROM share_excluded_recipients WHERE share_id = $1';
const PAGE = `SELECT ${COLUMNS} FROM share_excluded_recipients WHERE share_id = $1
  ORDER BY created, id LIMIT $2 OFFSET $3`;
const BY_ID = `SELECT ${COLUMNS} FROM share_excluded_recipients WHERE share_id = $1 AND id = $2`;
const ALL = `SELECT ${COLUMNS} FROM share_excluded_recipients WHERE share_id = $1 ORDER BY created, id`;
const REMOVE = 'DELETE FROM share_excluded_recipients WHERE share_id = $1 AND id = $2 RETURNING account_id';
const IS_MEMBER = `SELECT 1 FROM shares s JOIN accounts a ON a.organization_id = s.organization_id
  WHERE s.id = $1 AND a.id = $2`;
const HAS_RECIPIENT = 'SELECT 1 FROM share_recipients WHERE share_id = $1 AND account_id = $2';
const INSERT = `INSERT INTO share_excluded_recipients (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)`;

export class PgExcludedRecipientsStore implements ExcludedRecipientsStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly timing: WorkTiming = dueNow,
  ) {}

  async list(
    shareId: string,
    limit: number,
    offset: number,
  ): Promise<{ rows: ExcludedRecipientRow[]; total: number }> {
    const total = (await this.pool.query<{ n: number }>(named(COUNT, [shareId]))).rows[0]?.n ?? 0;
    if (offset >= total) return { rows: [], total };
    const { rows } = await this.pool.query<ExcludedRecipientRow>(named(PAGE, [shareId, limit, offset]));
    return { rows, total };
  }

  async get(shareId: string, id: string): Promise<ExcludedRecipientRow | undefined> {
    return (await this.pool.query<ExcludedRecipientRow>(named(BY_ID, [shareId, id]))).rows[0];
  }

  async all(shareId: string): Promise<ExcludedRecipientRow[]> {
    return (await this.pool.query<ExcludedRecipientRow>(named(ALL, [shareId]))).rows;
  }

  /**
   * The changes were computed from a read outside this transaction; a concurrent request that excluded
   * the same account first makes the insert hit the unique constraint, answered as a conflict.
   */
  async apply(
    shareId: string,
    changes: ExclusionChanges,
    modified: string,
    recipientIds: readonly string[],
    audit: readonly AuditEntry[] = [],
  ): Promise<boolean> {
    let excluding: ExcludedRecipientRow | undefined;
    try {
      return await transaction(this.pool, async (client) => {
        if (!(await shareIsActive(client, shareId))) return false;
        const due = this.timing.dueAt();
        for (const [i, id] of changes.remove.entries()) {
          const gone = (await client.query<{ account_id: string }>(named(REMOVE, [shareId, id]))).rows[0];
          if (!gone) continue;
          // Only a current member is included again: one that left the organization stays out, as the
          // reconciler's re-derivation of organization recipients would decide.
          if ((await client.query(named(IS_MEMBER, [shareId, gone.account_id]))).rows.length === 0) continue;
          if ((await client.query(named(HAS_RECIPIENT, [shareId, gone.account_id]))).rows.length > 0) {
            await setDesired(client, shareId, gone.account_id, 'associated', modified, due);
          } else {
            await insertRecipient(
              client,
              {
                id: recipientIds[i] ?? missingId(id),
                share_id: shareId,
                account_id: gone.account_id,
                desired_status: 'associated',
                status: 'associating',
                created: modified,
                modified,
              },
              due,
            );
          }
        }
        for (const row of changes.add) {
          excluding = row;
          await client.query(
            named(INSERT, [row.id, row.share_id, row.account_id, row.created, row.modified]),
          );
          excluding = undefined;
          await setDesired(client, shareId, row.account_id, 'disassociated', modified, due);
        }
        await insertAudit(client, audit);
        return true;
      });
    } catch (err) {
      if (excluding && isUniqueViolation(err)) {
        throw new ConflictError(`Account ${excluding.account_id} is already excluded from the share`);
      }
      throw err;
    }
  }
}

/** The service passes one recipient id per removal; a shorter list is a caller's bug. */
function missingId(exclusionId: string): never {
  throw new Error(`no recipient id given for the removal of exclusion ${exclusionId}`);
}
