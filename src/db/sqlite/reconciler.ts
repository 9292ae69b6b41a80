import type Database from 'better-sqlite3';
import type { AssociationStatus, RecipientRow } from '../../recipients/store.js';
import type {
  DeliveryState,
  RecipientContext,
  ReconcilerStore,
  ShareFinalization,
  WorkItem,
  WorkKind,
} from '../../reconciler/store.js';
import type { ShareRow } from '../../shares/store.js';
import type { AccountRow } from '../../tenancy/store.js';
import { prepared } from './database.js';
import { insertRecipient, setDesired } from './recipients.js';
import { toResourceRow, type ResourceRecord } from './resources.js';
import { enqueue } from './work.js';
import { planOrganizationShare } from '../../reconciler/organization.js';

type Db = Database.Database;

export class SqliteReconcilerStore implements ReconcilerStore {
  constructor(private readonly db: Db) {}

  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<WorkItem[]> {
    return prepared(
      this.db,
      `UPDATE reconcile_work SET lease_owner = @owner, lease_expires = @expires
       WHERE rowid IN (
         SELECT rowid FROM reconcile_work
         WHERE due_at <= @now AND (lease_expires IS NULL OR lease_expires <= @now)
         ORDER BY due_at LIMIT @limit)
       RETURNING kind, id, generation, attempts`,
    ).all({ owner, now, expires: now + leaseMs, limit }) as WorkItem[];
  }

  async complete(owner: string, item: WorkItem): Promise<void> {
    const gone = prepared(
      this.db,
      'DELETE FROM reconcile_work WHERE kind = ? AND id = ? AND generation = ? AND lease_owner = ?',
    ).run(item.kind, item.id, item.generation, owner).changes;
    if (gone === 0) this.release(owner, item);
  }

  private release(owner: string, item: WorkItem): void {
    prepared(
      this.db,
      `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL
       WHERE kind = ? AND id = ? AND lease_owner = ?`,
    ).run(item.kind, item.id, owner);
  }

  async retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void> {
    // A newer request (generation moved) is due now and must not wait for this item's backoff.
    prepared(
      this.db,
      `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL, last_error = @error,
         attempts = CASE WHEN generation = @generation THEN attempts + 1 ELSE attempts END,
         due_at = CASE WHEN generation = @generation THEN @due ELSE 0 END
       WHERE kind = @kind AND id = @id AND lease_owner = @owner`,
    ).run({ kind: item.kind, id: item.id, owner, generation: item.generation, due: dueAt, error });
  }

  async enqueue(kind: WorkKind, id: string): Promise<void> {
    enqueue(this.db, kind, id);
  }

  async pendingCount(): Promise<number> {
    return (prepared(this.db, 'SELECT COUNT(*) AS n FROM reconcile_work').get() as { n: number }).n;
  }

  async recipientContext(recipientId: string): Promise<RecipientContext | undefined> {
    const recipient = prepared(this.db, 'SELECT * FROM share_recipients WHERE id = ?').get(recipientId) as
      RecipientRow | undefined;
    if (!recipient) return undefined;
    const share = prepared(this.db, 'SELECT * FROM shares WHERE id = ?').get(recipient.share_id) as ShareRow;
    const account = prepared(this.db, 'SELECT * FROM accounts WHERE id = ?').get(
      recipient.account_id,
    ) as Omit<AccountRow, 'entitlements'> & { entitlements: string | null };
    const delivered = new Map<string, DeliveryState>();
    for (const d of prepared(
      this.db,
      `SELECT share_resource_id, applied_version, error, terminal, error_version
       FROM recipient_resources WHERE recipient_id = ?`,
    ).all(recipientId) as (Omit<DeliveryState, 'terminal'> & { terminal: number })[]) {
      delivered.set(d.share_resource_id, { ...d, terminal: d.terminal === 1 });
    }
    const resources = (
      prepared(this.db, 'SELECT * FROM share_resources WHERE share_id = ? ORDER BY created, id').all(
        recipient.share_id,
      ) as ResourceRecord[]
    )
      .filter((r) => r.status !== 'deleted' || delivered.has(r.id))
      .map(toResourceRow);
    return {
      recipient,
      share,
      account: {
        ...account,
        entitlements:
          account.entitlements === null
            ? null
            : (JSON.parse(account.entitlements) as AccountRow['entitlements']),
      },
      resources,
      delivered,
    };
  }

  async recordDelivery(
    recipientId: string,
    shareResourceId: string,
    state: Omit<DeliveryState, 'share_resource_id'> | null,
    modified: string,
  ): Promise<void> {
    if (state === null) {
      prepared(
        this.db,
        'DELETE FROM recipient_resources WHERE recipient_id = ? AND share_resource_id = ?',
      ).run(recipientId, shareResourceId);
      return;
    }
    prepared(
      this.db,
      `INSERT INTO recipient_resources
         (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
       VALUES (@recipient, @resource, @applied_version, @error, @terminal, @error_version, @modified)
       ON CONFLICT (recipient_id, share_resource_id) DO UPDATE SET applied_version = excluded.applied_version,
         error = excluded.error, terminal = excluded.terminal, error_version = excluded.error_version,
         modified = excluded.modified`,
    ).run({
      recipient: recipientId,
      resource: shareResourceId,
      applied_version: state.applied_version,
      error: state.error,
      terminal: state.terminal ? 1 : 0,
      error_version: state.error_version,
      modified,
    });
  }

  async setRecipientStatus(
    recipient: RecipientRow,
    to: AssociationStatus,
    modified: string,
  ): Promise<boolean> {
    return (
      prepared(
        this.db,
        `UPDATE share_recipients SET status = ?, modified = ?
         WHERE id = ? AND status = ? AND desired_status = ?`,
      ).run(to, modified, recipient.id, recipient.status, recipient.desired_status).changes > 0
    );
  }

  async finalizeShare(shareId: string, modified: string): Promise<ShareFinalization> {
    return this.db.transaction((): ShareFinalization => {
      const pending = prepared(
        this.db,
        `SELECT 1 FROM reconcile_work w JOIN share_recipients r ON w.kind = 'recipient' AND w.id = r.id
         WHERE r.share_id = ? LIMIT 1`,
      ).get(shareId);
      if (pending) return { deletedResources: [], shareDeleted: false };
      const deletedResources = (
        prepared(
          this.db,
          `UPDATE share_resources SET status = 'deleted', modified = @modified
         WHERE share_id = @share AND status = 'deleting' AND NOT EXISTS (
           SELECT 1 FROM recipient_resources rr
           WHERE rr.share_resource_id = share_resources.id AND rr.applied_version IS NOT NULL)
         RETURNING id`,
        ).all({ share: shareId, modified }) as { id: string }[]
      ).map((r) => r.id);
      const shareDeleted =
        prepared(
          this.db,
          `UPDATE shares SET status = 'deleted', modified = @modified
           WHERE id = @share AND status = 'deleting'
             AND NOT EXISTS (SELECT 1 FROM share_recipients WHERE share_id = @share AND status <> 'disassociated')
             AND NOT EXISTS (SELECT 1 FROM share_resources WHERE share_id = @share AND status <> 'deleted')`,
        ).run({ share: shareId, modified }).changes > 0;
      return { deletedResources, shareDeleted };
    })();
  }

  async syncOrganization(organizationId: string, modified: string, newId: () => string): Promise<number> {
    return this.db.transaction(() => {
      let changed = 0;
      const members = new Set(
        (
          prepared(this.db, 'SELECT id FROM accounts WHERE organization_id = ?').all(organizationId) as {
            id: string;
          }[]
        ).map((a) => a.id),
      );
      // Recipients of account-targeted shares must stay members too; they are never added back on their own.
      const departed = prepared(
        this.db,
        `SELECT r.share_id, r.account_id FROM share_recipients r JOIN shares s ON s.id = r.share_id
         WHERE s.organization_id = ? AND s.target_type = 'account' AND s.status = 'active'
           AND r.desired_status = 'associated'
           AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = r.account_id AND a.organization_id = s.organization_id)`,
      ).all(organizationId) as { share_id: string; account_id: string }[];
      for (const r of departed) {
        setDesired(this.db, r.share_id, r.account_id, 'disassociated', modified);
        changed++;
      }
      const shares = prepared(
        this.db,
        `SELECT id, account_id FROM shares
         WHERE organization_id = ? AND target_type = 'organization' AND status = 'active'`,
      ).all(organizationId) as { id: string; account_id: string }[];
      for (const share of shares) {
        const excluded = new Set(
          (
            prepared(this.db, 'SELECT account_id FROM share_excluded_recipients WHERE share_id = ?').all(
              share.id,
            ) as { account_id: string }[]
          ).map((e) => e.account_id),
        );
        const current = prepared(
          this.db,
          'SELECT account_id, desired_status FROM share_recipients WHERE share_id = ?',
        ).all(share.id) as { account_id: string; desired_status: string }[];
        const plan = planOrganizationShare(members, share.account_id, excluded, current);
        for (const { accountId, to } of plan.change) setDesired(this.db, share.id, accountId, to, modified);
        for (const accountId of plan.add) {
          insertRecipient(this.db, {
            id: newId(),
            share_id: share.id,
            account_id: accountId,
            desired_status: 'associated',
            status: 'associating',
            created: modified,
            modified,
          });
        }
        changed += plan.change.length + plan.add.length;
      }
      return changed;
    })();
  }
}
