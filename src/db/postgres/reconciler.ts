import { planOrganizationShare } from '../../reconciler/organization.js';
import type pg from 'pg';
import type { AssociationStatus, RecipientRow } from '../../recipients/store.js';
import type {
  DeliveryState,
  RecipientContext,
  ReconcilerStore,
  ShareFinalization,
  WorkItem,
  WorkKind,
} from '../../reconciler/store.js';
import type { ResourceRow } from '../../resources/store.js';
import type { ShareRow } from '../../shares/store.js';
import type { AccountRow } from '../../tenancy/store.js';
import { transaction } from './database.js';
import { insertRecipient, setDesired } from './recipients.js';
import { enqueue } from './work.js';

/**
 * Due, unleased items, locked with SKIP LOCKED: workers on several nodes claiming at once each get a
 * disjoint batch instead of queueing behind (or double-claiming) the same rows.
 */
const CLAIM = `UPDATE reconcile_work w SET lease_owner = $1, lease_expires = $2
  FROM (
    SELECT kind, id FROM reconcile_work
    WHERE due_at <= $3 AND (lease_expires IS NULL OR lease_expires <= $3)
    ORDER BY due_at LIMIT $4
    FOR UPDATE SKIP LOCKED) due
  WHERE w.kind = due.kind AND w.id = due.id
  RETURNING w.kind, w.id, w.generation, w.attempts`;

const COMPLETE = `DELETE FROM reconcile_work
  WHERE kind = $1 AND id = $2 AND generation = $3 AND lease_owner = $4`;

const RELEASE = `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL
  WHERE kind = $1 AND id = $2 AND lease_owner = $3`;

// A newer request (generation moved) is due now and must not wait for this item's backoff.
const RETRY = `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL, last_error = $1,
    attempts = CASE WHEN generation = $2 THEN attempts + 1 ELSE attempts END,
    due_at = CASE WHEN generation = $2 THEN $3::bigint ELSE 0 END
  WHERE kind = $4 AND id = $5 AND lease_owner = $6`;

const PENDING_COUNT = 'SELECT COUNT(*) AS n FROM reconcile_work';

const SNAPSHOT = 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY';
const RECIPIENT = 'SELECT * FROM share_recipients WHERE id = $1';
const SHARE = 'SELECT * FROM shares WHERE id = $1';
const ACCOUNT = 'SELECT * FROM accounts WHERE id = $1';
const DELIVERIES = `SELECT share_resource_id, applied_version, error, terminal, error_version
  FROM recipient_resources WHERE recipient_id = $1`;
const SHARE_RESOURCES = 'SELECT * FROM share_resources WHERE share_id = $1 ORDER BY created, id';

const CLEAR_DELIVERY = 'DELETE FROM recipient_resources WHERE recipient_id = $1 AND share_resource_id = $2';
const RECORD_DELIVERY = `INSERT INTO recipient_resources
    (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (recipient_id, share_resource_id) DO UPDATE SET applied_version = excluded.applied_version,
    error = excluded.error, terminal = excluded.terminal, error_version = excluded.error_version,
    modified = excluded.modified`;

const SET_RECIPIENT_STATUS = `UPDATE share_recipients SET status = $1, modified = $2
  WHERE id = $3 AND status = $4 AND desired_status = $5`;

const LOCK_SHARE = 'SELECT status FROM shares WHERE id = $1 FOR UPDATE';
const RECIPIENT_WORK_PENDING = `SELECT 1 FROM reconcile_work w JOIN share_recipients r
    ON w.kind = 'recipient' AND w.id = r.id
  WHERE r.share_id = $1 LIMIT 1`;
const DELETE_UNHELD_RESOURCES = `UPDATE share_resources SET status = 'deleted', modified = $1
  WHERE share_id = $2 AND status = 'deleting' AND NOT EXISTS (
    SELECT 1 FROM recipient_resources rr
    WHERE rr.share_resource_id = share_resources.id AND rr.applied_version IS NOT NULL)
  RETURNING id`;
const DELETE_SHARE = `UPDATE shares SET status = 'deleted', modified = $1
  WHERE id = $2 AND status = 'deleting'
    AND NOT EXISTS (SELECT 1 FROM share_recipients WHERE share_id = $2 AND status <> 'disassociated')
    AND NOT EXISTS (SELECT 1 FROM share_resources WHERE share_id = $2 AND status <> 'deleted')`;

// Every active share of the organization, in id order so concurrent lockers never deadlock.
const LOCK_ORGANIZATION_SHARES = `SELECT id FROM shares WHERE organization_id = $1 AND status = 'active'
  ORDER BY id FOR UPDATE`;
const MEMBERS = 'SELECT id FROM accounts WHERE organization_id = $1';
const DEPARTED = `SELECT r.share_id, r.account_id FROM share_recipients r JOIN shares s ON s.id = r.share_id
  WHERE s.organization_id = $1 AND s.target_type = 'account' AND s.status = 'active'
    AND r.desired_status = 'associated'
    AND NOT EXISTS (
      SELECT 1 FROM accounts a WHERE a.id = r.account_id AND a.organization_id = s.organization_id)`;
const ORGANIZATION_SHARES = `SELECT id, account_id FROM shares
  WHERE organization_id = $1 AND target_type = 'organization' AND status = 'active'`;
const EXCLUDED = 'SELECT account_id FROM share_excluded_recipients WHERE share_id = $1';
const CURRENT_RECIPIENTS = 'SELECT account_id, desired_status FROM share_recipients WHERE share_id = $1';

export class PgReconcilerStore implements ReconcilerStore {
  constructor(private readonly pool: pg.Pool) {}

  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<WorkItem[]> {
    const { rows } = await this.pool.query<WorkItem>(CLAIM, [owner, now + leaseMs, now, limit]);
    return rows;
  }

  async complete(owner: string, item: WorkItem): Promise<void> {
    const { rowCount } = await this.pool.query(COMPLETE, [item.kind, item.id, item.generation, owner]);
    if (rowCount === 0) await this.pool.query(RELEASE, [item.kind, item.id, owner]);
  }

  async retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void> {
    await this.pool.query(RETRY, [error, item.generation, dueAt, item.kind, item.id, owner]);
  }

  async enqueue(kind: WorkKind, id: string): Promise<void> {
    await transaction(this.pool, (client) => enqueue(client, kind, id));
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(PENDING_COUNT);
    return rows[0]?.n ?? 0;
  }

  async recipientContext(recipientId: string): Promise<RecipientContext | undefined> {
    // One snapshot, as SQLite's synchronous reads were: the recipient, its share and resources agree.
    return transaction(this.pool, async (client) => {
      await client.query(SNAPSHOT);
      const recipient = (await client.query<RecipientRow>(RECIPIENT, [recipientId])).rows[0];
      if (!recipient) return undefined;
      const share = (await client.query<ShareRow>(SHARE, [recipient.share_id])).rows[0] as ShareRow;
      const account = (await client.query<AccountRow>(ACCOUNT, [recipient.account_id])).rows[0] as AccountRow;
      const delivered = new Map<string, DeliveryState>();
      for (const d of (await client.query<DeliveryState>(DELIVERIES, [recipientId])).rows) {
        delivered.set(d.share_resource_id, d);
      }
      const resources = (await client.query<ResourceRow>(SHARE_RESOURCES, [recipient.share_id])).rows.filter(
        (r) => r.status !== 'deleted' || delivered.has(r.id),
      );
      return { recipient, share, account, resources, delivered };
    });
  }

  async recordDelivery(
    recipientId: string,
    shareResourceId: string,
    state: Omit<DeliveryState, 'share_resource_id'> | null,
    modified: string,
  ): Promise<void> {
    if (state === null) {
      await this.pool.query(CLEAR_DELIVERY, [recipientId, shareResourceId]);
      return;
    }
    await this.pool.query(RECORD_DELIVERY, [
      recipientId,
      shareResourceId,
      state.applied_version,
      state.error,
      state.terminal,
      state.error_version,
      modified,
    ]);
  }

  async setRecipientStatus(
    recipient: RecipientRow,
    to: AssociationStatus,
    modified: string,
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(SET_RECIPIENT_STATUS, [
      to,
      modified,
      recipient.id,
      recipient.status,
      recipient.desired_status,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async finalizeShare(shareId: string, modified: string): Promise<ShareFinalization> {
    return transaction(this.pool, async (client) => {
      // Serialises with API changes on the share, which lock it before queueing recipient work.
      await client.query(LOCK_SHARE, [shareId]);
      if ((await client.query(RECIPIENT_WORK_PENDING, [shareId])).rows.length > 0) {
        return { deletedResources: [], shareDeleted: false };
      }
      const deletedResources = (
        await client.query<{ id: string }>(DELETE_UNHELD_RESOURCES, [modified, shareId])
      ).rows.map((r) => r.id);
      const shareDeleted = ((await client.query(DELETE_SHARE, [modified, shareId])).rowCount ?? 0) > 0;
      return { deletedResources, shareDeleted };
    });
  }

  async syncOrganization(organizationId: string, modified: string, newId: () => string): Promise<number> {
    return transaction(this.pool, async (client) => {
      await client.query(LOCK_ORGANIZATION_SHARES, [organizationId]);
      let changed = 0;
      const members = new Set(
        (await client.query<{ id: string }>(MEMBERS, [organizationId])).rows.map((a) => a.id),
      );
      // Recipients of account-targeted shares must stay members too; they are never added back on their own.
      const departed = (
        await client.query<{ share_id: string; account_id: string }>(DEPARTED, [organizationId])
      ).rows;
      for (const r of departed) {
        await setDesired(client, r.share_id, r.account_id, 'disassociated', modified);
        changed++;
      }
      const shares = (
        await client.query<{ id: string; account_id: string }>(ORGANIZATION_SHARES, [organizationId])
      ).rows;
      for (const share of shares) {
        const excluded = new Set(
          (await client.query<{ account_id: string }>(EXCLUDED, [share.id])).rows.map((e) => e.account_id),
        );
        const current = (
          await client.query<{ account_id: string; desired_status: string }>(CURRENT_RECIPIENTS, [share.id])
        ).rows;
        const plan = planOrganizationShare(members, share.account_id, excluded, current);
        for (const { accountId, to } of plan.change)
          await setDesired(client, share.id, accountId, to, modified);
        for (const accountId of plan.add) {
          await insertRecipient(client, {
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
    });
  }
}
