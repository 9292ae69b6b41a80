import { noAudit, type AuditOf } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type Database from 'better-sqlite3';
import { DELIVERY_IN_DOUBT } from '../../cloudflare/recipients/store.js';
import type { InventoryChanges } from '../../cloudflare/inventory/store.js';
import { writeInventory } from './inventory.js';
import type {
  AbandonedShare,
  ClaimOptions,
  OrganizationShareState,
  PendingDelivery,
  RecipientContext,
  RecipientResult,
  RecipientsWrite,
  ReconcilerStore,
  ShareFinalization,
  WorkItem,
  WorkKind,
} from '../../engine/reconciler/store.js';
import { prepared } from './database.js';
import { insertRecipient, setDesired } from './recipients.js';
import { startShareDelete } from './shares.js';
import { claim, complete, enqueue, retry } from './work.js';
import { readRecipientContexts } from './recipient-contexts.js';
import { sameOrganizationShare } from '../organization-share.js';

type Db = Database.Database;

/** Work the reconciler queues itself follows a change whose delay is already served: due at once. */
const DUE_NOW = 0;

export class SqliteReconcilerStore implements ReconcilerStore {
  constructor(private readonly db: Db) {}

  async claim(
    owner: string,
    now: number,
    leaseMs: number,
    limit: number,
    options?: ClaimOptions,
  ): Promise<WorkItem[]> {
    return claim(this.db, owner, now, leaseMs, limit, options);
  }

  async complete(owner: string, item: WorkItem): Promise<void> {
    complete(this.db, owner, item);
  }

  async retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void> {
    retry(this.db, owner, item, dueAt, error);
  }

  async enqueue(kind: WorkKind, id: string): Promise<void> {
    enqueue(this.db, kind, id, DUE_NOW);
  }

  async recordInDoubt(deliveries: PendingDelivery[], modified: string): Promise<void> {
    if (deliveries.length === 0) return;
    const record = prepared(
      this.db,
      `INSERT INTO recipient_resources
         (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
       VALUES (?, ?, NULL, ?, 0, NULL, ?)
       ON CONFLICT (recipient_id, share_resource_id) DO UPDATE SET applied_version = NULL,
         error = excluded.error, terminal = 0, error_version = NULL, modified = excluded.modified`,
    );
    this.db.transaction(() => {
      for (const d of deliveries) record.run(d.recipientId, d.shareResourceId, DELIVERY_IN_DOUBT, modified);
    })();
  }

  async pendingCount(shareId?: string): Promise<number> {
    if (shareId === undefined)
      return (prepared(this.db, 'SELECT COUNT(*) AS n FROM reconcile_work').get() as { n: number }).n;
    return (
      prepared(
        this.db,
        `SELECT (SELECT COUNT(*) FROM reconcile_work WHERE kind = 'share' AND id = @share)
           + (SELECT COUNT(*) FROM share_recipients r
              JOIN reconcile_work w ON w.kind = 'recipient' AND w.id = r.id
              WHERE r.share_id = @share) AS n`,
      ).get({ share: shareId }) as { n: number }
    ).n;
  }

  async recipientContexts(recipientIds: string[]): Promise<Map<string, RecipientContext>> {
    return readRecipientContexts(this.db, recipientIds);
  }

  async settleRecipients(
    owner: string,
    results: RecipientResult[],
    modified: string,
    finalize: readonly string[],
    inventory?: InventoryChanges,
  ): Promise<Set<string>> {
    const clear = prepared(
      this.db,
      'DELETE FROM recipient_resources WHERE recipient_id = ? AND share_resource_id = ?',
    );
    const record = prepared(
      this.db,
      `INSERT INTO recipient_resources
         (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
       VALUES (@recipient, @resource, @applied_version, @error, @terminal, @error_version, @modified)
       ON CONFLICT (recipient_id, share_resource_id) DO UPDATE SET applied_version = excluded.applied_version,
         error = excluded.error, terminal = excluded.terminal, error_version = excluded.error_version,
         modified = excluded.modified`,
    );
    const move = prepared(
      this.db,
      `UPDATE share_recipients SET status = ?, modified = ?
       WHERE id = ? AND status = ? AND desired_status = ?`,
    );
    return this.db.transaction(() => {
      if (inventory) writeInventory(this.db, inventory);
      const moved = new Set<string>();
      for (const r of results) {
        for (const w of r.writes) {
          if (w.state === null) clear.run(r.item.id, w.shareResourceId);
          else
            record.run({
              recipient: r.item.id,
              resource: w.shareResourceId,
              applied_version: w.state.applied_version,
              error: w.state.error,
              terminal: w.state.terminal ? 1 : 0,
              error_version: w.state.error_version,
              modified,
            });
        }
        const rec = r.recipient;
        if (
          rec &&
          r.status &&
          move.run(r.status, modified, rec.id, rec.status, rec.desired_status).changes > 0
        )
          moved.add(rec.id);
        if (r.retry) retry(this.db, owner, r.item, r.retry.dueAt, r.retry.error);
        else complete(this.db, owner, r.item);
        insertAudit(this.db, r.audit ?? []);
        if (rec && moved.has(rec.id)) insertAudit(this.db, r.moveAudit ?? []);
      }
      for (const shareId of finalize) enqueue(this.db, 'share', shareId, DUE_NOW);
      return moved;
    })();
  }

  async organizationShare(shareId: string): Promise<OrganizationShareState | undefined> {
    return this.readOrganizationShare(shareId);
  }

  private readOrganizationShare(shareId: string): OrganizationShareState | undefined {
    const share = prepared(
      this.db,
      `SELECT id, account_id, organization_id FROM shares
       WHERE id = ? AND target_type = 'organization' AND status = 'active'`,
    ).get(shareId) as OrganizationShareState['share'] | undefined;
    if (!share) return undefined;
    const members = this.members(share.organization_id);
    const excluded = (
      prepared(this.db, 'SELECT account_id FROM share_excluded_recipients WHERE share_id = ?').all(
        share.id,
      ) as { account_id: string }[]
    ).map((e) => e.account_id);
    const current = prepared(
      this.db,
      'SELECT account_id, desired_status FROM share_recipients WHERE share_id = ?',
    ).all(share.id) as OrganizationShareState['current'];
    return { share: { ...share }, members, excluded, current };
  }

  async writeShareRecipients(
    read: OrganizationShareState,
    plan: RecipientsWrite,
    modified: string,
  ): Promise<boolean> {
    return this.db.transaction(() => {
      if (!sameOrganizationShare(read, this.readOrganizationShare(read.share.id))) return false;
      const shareId = read.share.id;
      for (const { accountId, to } of plan.change)
        setDesired(this.db, shareId, accountId, to, modified, DUE_NOW);
      for (const { id, accountId } of plan.add) {
        insertRecipient(
          this.db,
          {
            id,
            share_id: shareId,
            account_id: accountId,
            desired_status: 'associated',
            status: 'associating',
            created: modified,
            modified,
          },
          DUE_NOW,
        );
      }
      return true;
    })();
  }

  async organizationShares(organizationId: string): Promise<string[]> {
    return (
      prepared(
        this.db,
        `SELECT id FROM shares WHERE organization_id = ? AND target_type = 'organization' AND status = 'active'`,
      ).all(organizationId) as { id: string }[]
    ).map((s) => s.id);
  }

  async finalizeShare(
    shareId: string,
    modified: string,
    audit: AuditOf<ShareFinalization> = noAudit,
  ): Promise<ShareFinalization> {
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
      insertAudit(this.db, audit({ deletedResources, shareDeleted }));
      return { deletedResources, shareDeleted };
    })();
  }

  /** The organization's accounts, in the database's order. */
  private members(organizationId: string): string[] {
    return (
      prepared(this.db, 'SELECT id FROM accounts WHERE organization_id = ?').all(organizationId) as {
        id: string;
      }[]
    ).map((a) => a.id);
  }

  async followDepartures(
    organizationId: string,
    modified: string,
    ownersLeft: AuditOf<AbandonedShare[]> = noAudit,
  ): Promise<number> {
    return this.db.transaction(() => {
      let changed = 0;
      const members = new Set(this.members(organizationId));
      // Recipients of account-targeted shares must stay members too; they are never added back on their own.
      // Found from the side of the accounts that left (recorded with each move), not by scanning the shares.
      const departures = prepared(
        this.db,
        'SELECT account_id FROM organization_departures WHERE organization_id = ?',
      ).all(organizationId) as { account_id: string }[];
      for (const { account_id } of departures) {
        prepared(
          this.db,
          'DELETE FROM organization_departures WHERE organization_id = ? AND account_id = ?',
        ).run(organizationId, account_id);
        if (members.has(account_id)) continue; // back in the organization meanwhile
        // What a departed owner shared leaves every recipient: its active shares here start deleting.
        const abandoned = prepared(
          this.db,
          `SELECT id, account_id, organization_id FROM shares
           WHERE account_id = ? AND organization_id = ? AND status = 'active'`,
        ).all(account_id, organizationId) as AbandonedShare[];
        for (const share of abandoned) startShareDelete(this.db, share.id, modified, DUE_NOW);
        if (abandoned.length > 0) insertAudit(this.db, ownersLeft(abandoned));
        changed += abandoned.length;
        const departed = prepared(
          this.db,
          `SELECT r.share_id FROM share_recipients r JOIN shares s ON s.id = r.share_id
           WHERE r.account_id = ? AND r.status IN ('associating', 'associated')
             AND r.desired_status = 'associated'
             AND s.organization_id = ? AND s.target_type = 'account' AND s.status = 'active'`,
        ).all(account_id, organizationId) as { share_id: string }[];
        for (const r of departed) {
          setDesired(this.db, r.share_id, account_id, 'disassociated', modified, DUE_NOW);
          changed++;
        }
      }
      return changed;
    })();
  }
}
