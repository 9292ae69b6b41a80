import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type Database from 'better-sqlite3';
import type {
  ExcludedRecipientRow,
  ExcludedRecipientsStore,
  ExclusionChanges,
} from '../../cloudflare/excluded-recipients/store.js';
import { prepared } from './database.js';
import { writeBatcher } from './group-commit.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';
import { insertRecipient, setDesired, shareIsActive } from './recipients.js';

type Db = Database.Database;

export class SqliteExcludedRecipientsStore implements ExcludedRecipientsStore {
  /** API writes on this connection commit in groups (see group-commit.ts). */
  private readonly writes;

  constructor(
    private readonly db: Db,
    private readonly timing: WorkTiming = dueNow,
  ) {
    this.writes = writeBatcher(db);
  }

  async list(
    shareId: string,
    limit: number,
    offset: number,
  ): Promise<{ rows: ExcludedRecipientRow[]; total: number }> {
    const { n: total } = prepared(
      this.db,
      'SELECT COUNT(*) AS n FROM share_excluded_recipients WHERE share_id = ?',
    ).get(shareId) as { n: number };
    if (offset >= total) return { rows: [], total };
    const rows = prepared(
      this.db,
      'SELECT * FROM share_excluded_recipients WHERE share_id = ? ORDER BY created, id LIMIT ? OFFSET ?',
    ).all(shareId, limit, offset) as ExcludedRecipientRow[];
    return { rows, total };
  }

  async get(shareId: string, id: string): Promise<ExcludedRecipientRow | undefined> {
    return prepared(this.db, 'SELECT * FROM share_excluded_recipients WHERE share_id = ? AND id = ?').get(
      shareId,
      id,
    ) as ExcludedRecipientRow | undefined;
  }

  async all(shareId: string): Promise<ExcludedRecipientRow[]> {
    return prepared(
      this.db,
      'SELECT * FROM share_excluded_recipients WHERE share_id = ? ORDER BY created, id',
    ).all(shareId) as ExcludedRecipientRow[];
  }

  async apply(
    shareId: string,
    changes: ExclusionChanges,
    modified: string,
    recipientIds: readonly string[],
    audit: readonly AuditEntry[] = [],
  ): Promise<boolean> {
    return this.writes.run(() => {
      if (!shareIsActive(this.db, shareId)) return false;
      const due = this.timing.dueAt();
      for (const [i, id] of changes.remove.entries()) {
        const gone = prepared(
          this.db,
          'DELETE FROM share_excluded_recipients WHERE share_id = ? AND id = ? RETURNING account_id',
        ).get(shareId, id) as { account_id: string } | undefined;
        if (!gone) continue;
        // Only a current member is included again: one that left the organization stays out, as the
        // reconciler's re-derivation of organization recipients would decide.
        const member = prepared(
          this.db,
          `SELECT 1 FROM shares s JOIN accounts a ON a.organization_id = s.organization_id
           WHERE s.id = ? AND a.id = ?`,
        ).get(shareId, gone.account_id);
        if (!member) continue;
        const hasRecipient = prepared(
          this.db,
          'SELECT 1 FROM share_recipients WHERE share_id = ? AND account_id = ?',
        ).get(shareId, gone.account_id);
        if (hasRecipient) {
          setDesired(this.db, shareId, gone.account_id, 'associated', modified, due);
        } else {
          insertRecipient(
            this.db,
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
        prepared(
          this.db,
          `INSERT INTO share_excluded_recipients (id, share_id, account_id, created, modified)
           VALUES (@id, @share_id, @account_id, @created, @modified)`,
        ).run(row);
        setDesired(this.db, shareId, row.account_id, 'disassociated', modified, due);
      }
      insertAudit(this.db, audit);
      return true;
    });
  }
}

/** The service passes one recipient id per removal; a shorter list is a caller's bug. */
function missingId(exclusionId: string): never {
  throw new Error(`no recipient id given for the removal of exclusion ${exclusionId}`);
}
