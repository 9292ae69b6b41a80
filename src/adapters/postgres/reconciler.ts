import { noAudit, type AuditOf } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type pg from 'pg';
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
import { named, transaction } from './database.js';
import { insertRecipients, setDesired } from './recipients.js';
import {
  LOCK_ORGANIZATION_SHARE,
  MEMBERS,
  ORGANIZATION_SHARE,
  readOrganizationShare,
} from './organization-share.js';
import { sameOrganizationShare } from '../organization-share.js';
import { startShareDelete } from './shares.js';
import { claim, complete, enqueue, enqueueMany, retry } from './work.js';
import { readRecipientContexts } from './recipient-contexts.js';

/** Work the reconciler queues itself follows a change whose delay is already served: due at once. */
const DUE_NOW = 0;

const PENDING_COUNT = 'SELECT COUNT(*) AS n FROM reconcile_work';
const SHARE_PENDING_COUNT = `SELECT (SELECT COUNT(*) FROM reconcile_work WHERE kind = 'share' AND id = $1)
  + (SELECT COUNT(*) FROM share_recipients r JOIN reconcile_work w ON w.kind = 'recipient' AND w.id = r.id
     WHERE r.share_id = $1) AS n`;

// Settling a batch of recipient items: a handful of statements whatever the batch size.
/** Shares of the batch, in id order: API writes lock their share FOR UPDATE before its recipients. */
const SHARE_LOCKS = 'SELECT id FROM shares WHERE id = ANY($1::char(32)[]) ORDER BY id FOR SHARE';
const CLEAR_DELIVERIES = `DELETE FROM recipient_resources rr
  USING unnest($1::char(32)[], $2::char(32)[]) AS k (recipient_id, share_resource_id)
  WHERE rr.recipient_id = k.recipient_id AND rr.share_resource_id = k.share_resource_id`;
const RECORD_DELIVERIES = `INSERT INTO recipient_resources
    (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
  SELECT k.*, $7::timestamptz FROM unnest($1::char(32)[], $2::char(32)[], $3::integer[], $4::text[],
    $5::boolean[], $6::integer[]) AS k
  ON CONFLICT (recipient_id, share_resource_id) DO UPDATE SET applied_version = excluded.applied_version,
    error = excluded.error, terminal = excluded.terminal, error_version = excluded.error_version,
    modified = excluded.modified`;
const RECORD_IN_DOUBT = `INSERT INTO recipient_resources
    (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
  SELECT k.recipient_id, k.share_resource_id, NULL, $3, false, NULL, $4::timestamptz
  FROM unnest($1::char(32)[], $2::char(32)[]) AS k (recipient_id, share_resource_id)
  ON CONFLICT (recipient_id, share_resource_id) DO UPDATE SET applied_version = NULL, error = excluded.error,
    terminal = false, error_version = NULL, modified = excluded.modified`;
const SET_RECIPIENT_STATUSES = `UPDATE share_recipients r SET status = k.status, modified = $5
  FROM unnest($1::char(32)[], $2::text[], $3::text[], $4::text[]) AS k (id, status, was, desired)
  WHERE r.id = k.id AND r.status = k.was AND r.desired_status = k.desired
  RETURNING r.id`;
const COMPLETE_RECIPIENTS = `DELETE FROM reconcile_work w
  USING unnest($1::char(32)[], $2::integer[]) AS k (id, generation)
  WHERE w.kind = 'recipient' AND w.id = k.id AND w.generation = k.generation AND w.lease_owner = $3
  RETURNING w.id`;
const RELEASE_RECIPIENTS = `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL
  WHERE kind = 'recipient' AND id = ANY($1::char(32)[]) AND lease_owner = $2`;

const DEADLOCK = '40P01';

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

/** Departures since the last sync, consumed: a move committed after this read queues another sync. */
const TAKE_DEPARTURES = `DELETE FROM organization_departures WHERE organization_id = $1 RETURNING account_id`;
/** The leavers' recipients of the organization's account-targeted shares, from the account side. */
const DEPARTED = `SELECT r.share_id, r.account_id FROM share_recipients r JOIN shares s ON s.id = r.share_id
  WHERE r.account_id = ANY($1::char(32)[]) AND r.status IN ('associating', 'associated')
    AND r.desired_status = 'associated'
    AND s.organization_id = $2 AND s.target_type = 'account' AND s.status = 'active'`;
/** The active shares of the organization that accounts which left it own. */
const ABANDONED = `SELECT id, account_id, organization_id FROM shares
  WHERE account_id = ANY($1::char(32)[]) AND organization_id = $2 AND status = 'active'`;
/** The still active shares departures change, locked in id order. */
const LOCK_SHARES = `SELECT id FROM shares WHERE id = ANY($1::char(32)[]) AND status = 'active'
  ORDER BY id FOR UPDATE`;
const ORGANIZATION_SHARES = `SELECT id FROM shares
  WHERE organization_id = $1 AND target_type = 'organization' AND status = 'active'`;

export class PgReconcilerStore implements ReconcilerStore {
  constructor(private readonly pool: pg.Pool) {}

  async claim(
    owner: string,
    now: number,
    leaseMs: number,
    limit: number,
    options?: ClaimOptions,
  ): Promise<WorkItem[]> {
    return claim(this.pool, owner, now, leaseMs, limit, options);
  }

  async complete(owner: string, item: WorkItem): Promise<void> {
    await complete(this.pool, owner, item);
  }

  async retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void> {
    await retry(this.pool, owner, item, dueAt, error);
  }

  async enqueue(kind: WorkKind, id: string): Promise<void> {
    await transaction(this.pool, (client) => enqueue(client, kind, id, DUE_NOW));
  }

  async recordInDoubt(deliveries: PendingDelivery[], modified: string): Promise<void> {
    if (deliveries.length === 0) return;
    await this.pool.query(
      named(RECORD_IN_DOUBT, [
        deliveries.map((d) => d.recipientId),
        deliveries.map((d) => d.shareResourceId),
        DELIVERY_IN_DOUBT,
        modified,
      ]),
    );
  }

  async pendingCount(shareId?: string): Promise<number> {
    const { rows } =
      shareId === undefined
        ? await this.pool.query<{ n: number }>(named(PENDING_COUNT))
        : await this.pool.query<{ n: number }>(named(SHARE_PENDING_COUNT, [shareId]));
    return rows[0]?.n ?? 0;
  }

  async recipientContexts(recipientIds: string[]): Promise<Map<string, RecipientContext>> {
    return readRecipientContexts(this.pool, recipientIds);
  }

  async settleRecipients(
    owner: string,
    results: RecipientResult[],
    modified: string,
    finalize: readonly string[],
    inventory?: InventoryChanges,
  ): Promise<Set<string>> {
    if (results.length === 0 && finalize.length === 0) return new Set();
    const shareIds = [...new Set(results.flatMap((r) => (r.recipient ? [r.recipient.share_id] : [])))].sort();
    const clears = results.flatMap((r) =>
      r.writes.filter((w) => w.state === null).map((w) => [r.item.id, w.shareResourceId] as const),
    );
    const records = results.flatMap((r) =>
      r.writes.flatMap((w) =>
        w.state ? [{ recipient: r.item.id, resource: w.shareResourceId, ...w.state }] : [],
      ),
    );
    const moves = results.flatMap((r) => (r.recipient && r.status ? [{ ...r.recipient, to: r.status }] : []));
    const done = results.filter((r) => !r.retry).map((r) => r.item);
    const retries = results.filter((r) => r.retry);
    const settle = (client: pg.PoolClient) => async () => {
      if (shareIds.length > 0) await client.query(named(SHARE_LOCKS, [shareIds]));
      if (inventory) await writeInventory(client, inventory);
      if (clears.length > 0)
        await client.query(named(CLEAR_DELIVERIES, [clears.map((c) => c[0]), clears.map((c) => c[1])]));
      if (records.length > 0) {
        await client.query(
          named(RECORD_DELIVERIES, [
            records.map((r) => r.recipient),
            records.map((r) => r.resource),
            records.map((r) => r.applied_version),
            records.map((r) => r.error),
            records.map((r) => r.terminal),
            records.map((r) => r.error_version),
            modified,
          ]),
        );
      }
      const moved = new Set<string>();
      if (moves.length > 0) {
        const { rows } = await client.query<{ id: string }>(
          named(SET_RECIPIENT_STATUSES, [
            moves.map((m) => m.id),
            moves.map((m) => m.to),
            moves.map((m) => m.status),
            moves.map((m) => m.desired_status),
            modified,
          ]),
        );
        for (const r of rows) moved.add(r.id);
      }
      await insertAudit(
        client,
        results.flatMap((r) => [
          ...(r.audit ?? []),
          ...(r.recipient && moved.has(r.recipient.id) ? (r.moveAudit ?? []) : []),
        ]),
      );
      if (done.length > 0) {
        const { rows } = await client.query<{ id: string }>(
          named(COMPLETE_RECIPIENTS, [done.map((i) => i.id), done.map((i) => i.generation), owner]),
        );
        const gone = new Set(rows.map((r) => r.id));
        // Asked for again meanwhile (generation moved): left due for another pass.
        const again = done.filter((i) => !gone.has(i.id)).map((i) => i.id);
        if (again.length > 0) await client.query(named(RELEASE_RECIPIENTS, [again, owner]));
      }
      for (const r of retries) {
        const { item, retry: due } = r as Required<Pick<RecipientResult, 'retry'>> & RecipientResult;
        await retry(client, owner, item, due.dueAt, due.error);
      }
      // In id order, as concurrent settles queue the same shares.
      await enqueueMany(client, 'share', [...finalize].sort(), DUE_NOW);
      return moved;
    };
    // The share locks order this against API writes; a deadlock with anything else is retried.
    for (let attempt = 1; ; attempt++) {
      try {
        return await transaction(this.pool, (client) => settle(client)());
      } catch (err) {
        if (attempt >= 3 || (err as { code?: string }).code !== DEADLOCK) throw err;
      }
    }
  }

  async organizationShare(shareId: string): Promise<OrganizationShareState | undefined> {
    return readOrganizationShare(this.pool, ORGANIZATION_SHARE, shareId);
  }

  async writeShareRecipients(
    read: OrganizationShareState,
    plan: RecipientsWrite,
    modified: string,
  ): Promise<boolean> {
    const shareId = read.share.id;
    return transaction(this.pool, async (client) => {
      // The lock API writes on the share take too, so its exclusions and recipients hold until commit.
      const now = await readOrganizationShare(client, LOCK_ORGANIZATION_SHARE, shareId);
      if (!sameOrganizationShare(read, now)) return false;
      for (const { accountId, to } of plan.change)
        await setDesired(client, shareId, accountId, to, modified, DUE_NOW);
      await insertRecipients(
        client,
        plan.add.map(({ id, accountId }) => ({
          id,
          share_id: shareId,
          account_id: accountId,
          desired_status: 'associated' as const,
          status: 'associating' as const,
          created: modified,
          modified,
        })),
        DUE_NOW,
      );
      return true;
    });
  }

  async organizationShares(organizationId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(named(ORGANIZATION_SHARES, [organizationId]));
    return rows.map((r) => r.id);
  }

  async finalizeShare(
    shareId: string,
    modified: string,
    audit: AuditOf<ShareFinalization> = noAudit,
  ): Promise<ShareFinalization> {
    return transaction(this.pool, async (client) => {
      // Serialises with API changes on the share, which lock it before queueing recipient work.
      await client.query(named(LOCK_SHARE, [shareId]));
      if ((await client.query(named(RECIPIENT_WORK_PENDING, [shareId]))).rows.length > 0) {
        return { deletedResources: [], shareDeleted: false };
      }
      const deletedResources = (
        await client.query<{ id: string }>(named(DELETE_UNHELD_RESOURCES, [modified, shareId]))
      ).rows.map((r) => r.id);
      const shareDeleted = ((await client.query(named(DELETE_SHARE, [modified, shareId]))).rowCount ?? 0) > 0;
      await insertAudit(client, audit({ deletedResources, shareDeleted }));
      return { deletedResources, shareDeleted };
    });
  }

  async followDepartures(
    organizationId: string,
    modified: string,
    ownersLeft: AuditOf<AbandonedShare[]> = noAudit,
  ): Promise<number> {
    return transaction(this.pool, async (client) => {
      const members = new Set(
        (await client.query<{ id: string }>(named(MEMBERS, [organizationId]))).rows.map((a) => a.id),
      );
      // Recipients of account-targeted shares must stay members too; they are never added back on their own.
      // Found from the side of the accounts that left (recorded with each move), not by scanning the shares.
      const departures = (
        await client.query<{ account_id: string }>(named(TAKE_DEPARTURES, [organizationId]))
      ).rows.map((d) => d.account_id);
      const leavers = departures.filter((id) => !members.has(id));
      const departed =
        leavers.length === 0
          ? []
          : (
              await client.query<{ share_id: string; account_id: string }>(
                named(DEPARTED, [leavers, organizationId]),
              )
            ).rows;
      const abandoned =
        leavers.length === 0
          ? []
          : (await client.query<AbandonedShare>(named(ABANDONED, [leavers, organizationId]))).rows;
      const changedShares = [...new Set([...departed.map((r) => r.share_id), ...abandoned.map((s) => s.id)])];
      if (changedShares.length === 0) return 0;
      // Every share this changes, in id order so concurrent lockers never deadlock.
      const shares = (await client.query<{ id: string }>(named(LOCK_SHARES, [changedShares]))).rows;
      const locked = new Set(shares.map((s) => s.id));
      // Locked still active: deleting them is this sync's, and what they shared leaves every recipient.
      const leaving = abandoned.filter((s) => locked.has(s.id));
      for (const share of leaving) await startShareDelete(client, share.id, modified, DUE_NOW);
      await insertAudit(client, leaving.length > 0 ? ownersLeft(leaving) : []);
      const gone = new Set(leaving.map((s) => s.id));
      let changed = 0;
      changed += leaving.length;
      for (const r of departed) {
        if (gone.has(r.share_id)) continue;
        await setDesired(client, r.share_id, r.account_id, 'disassociated', modified, DUE_NOW);
        changed++;
      }
      return changed;
    });
  }
}
