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
import { named, transaction } from './database.js';
import { insertRecipients, setDesired } from './recipients.js';
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

// Columns in table order, so the rows built from them look like `SELECT *` rows.
const RECIPIENT_COLUMNS = ['id', 'share_id', 'account_id', 'desired_status', 'status', 'created', 'modified'];
const SHARE_COLUMNS = [
  'id',
  'account_id',
  'organization_id',
  'name',
  'target_type',
  'status',
  'created',
  'modified',
];
const ACCOUNT_COLUMNS = ['id', 'name', 'organization_id', 'entitlements', 'created', 'modified'];
const SHARE_RESOURCE_COLUMNS = [
  'id',
  'share_id',
  'resource_id',
  'resource_type',
  'resource_account_id',
  'meta',
  'status',
  'resource_version',
  'created',
  'modified',
];

const prefixed = (table: string, columns: string[]): string =>
  columns.map((c) => `${table}.${c} AS ${table}_${c}`).join(', ');

/**
 * Everything a recipient pass needs in one statement, hence one snapshot (as SQLite's synchronous reads
 * were): the recipient with its share and account (columns prefixed r_, s_, a_) and its deliveries
 * (json, no timestamps in them), repeated on one row per resource of the share (unprefixed columns, all
 * null when the share has none), in resource order.
 */
const CONTEXT = `WITH h AS MATERIALIZED (
    SELECT ${prefixed('r', RECIPIENT_COLUMNS)}, ${prefixed('s', SHARE_COLUMNS)}, ${prefixed('a', ACCOUNT_COLUMNS)},
      (SELECT json_agg(json_build_object('share_resource_id', d.share_resource_id,
          'applied_version', d.applied_version, 'error', d.error, 'terminal', d.terminal,
          'error_version', d.error_version))
        FROM recipient_resources d WHERE d.recipient_id = r.id) AS deliveries
    FROM share_recipients r JOIN shares s ON s.id = r.share_id JOIN accounts a ON a.id = r.account_id
    WHERE r.id = $1)
  SELECT h.*, ${SHARE_RESOURCE_COLUMNS.map((c) => `sr.${c}`).join(', ')}
  FROM h LEFT JOIN share_resources sr ON sr.share_id = h.r_share_id
  ORDER BY sr.created, sr.id`;

type Row = Record<string, unknown>;

function pick<T>(row: Row, prefix: string, columns: string[]): T {
  const out: Row = {};
  for (const c of columns) out[c] = row[prefix + c];
  return out as T;
}

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
    const { rows } = await this.pool.query<WorkItem>(named(CLAIM, [owner, now + leaseMs, now, limit]));
    return rows;
  }

  async complete(owner: string, item: WorkItem): Promise<void> {
    const { rowCount } = await this.pool.query(named(COMPLETE, [item.kind, item.id, item.generation, owner]));
    if (rowCount === 0) await this.pool.query(named(RELEASE, [item.kind, item.id, owner]));
  }

  async retry(owner: string, item: WorkItem, dueAt: number, error: string): Promise<void> {
    await this.pool.query(named(RETRY, [error, item.generation, dueAt, item.kind, item.id, owner]));
  }

  async enqueue(kind: WorkKind, id: string): Promise<void> {
    await transaction(this.pool, (client) => enqueue(client, kind, id));
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(named(PENDING_COUNT));
    return rows[0]?.n ?? 0;
  }

  async recipientContext(recipientId: string): Promise<RecipientContext | undefined> {
    const { rows } = await this.pool.query<Row>(named(CONTEXT, [recipientId]));
    const head = rows[0];
    if (!head) return undefined;
    const delivered = new Map<string, DeliveryState>();
    for (const d of (head.deliveries as DeliveryState[] | null) ?? []) delivered.set(d.share_resource_id, d);
    const resources = rows
      .filter((r) => r.id !== null)
      .map((r) => pick<ResourceRow>(r, '', SHARE_RESOURCE_COLUMNS))
      .filter((r) => r.status !== 'deleted' || delivered.has(r.id));
    return {
      recipient: pick<RecipientRow>(head, 'r_', RECIPIENT_COLUMNS),
      share: pick<ShareRow>(head, 's_', SHARE_COLUMNS),
      account: pick<AccountRow>(head, 'a_', ACCOUNT_COLUMNS),
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
      await this.pool.query(named(CLEAR_DELIVERY, [recipientId, shareResourceId]));
      return;
    }
    await this.pool.query(
      named(RECORD_DELIVERY, [
        recipientId,
        shareResourceId,
        state.applied_version,
        state.error,
        state.terminal,
        state.error_version,
        modified,
      ]),
    );
  }

  async setRecipientStatus(
    recipient: RecipientRow,
    to: AssociationStatus,
    modified: string,
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      named(SET_RECIPIENT_STATUS, [to, modified, recipient.id, recipient.status, recipient.desired_status]),
    );
    return (rowCount ?? 0) > 0;
  }

  async finalizeShare(shareId: string, modified: string): Promise<ShareFinalization> {
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
      return { deletedResources, shareDeleted };
    });
  }

  async syncOrganization(organizationId: string, modified: string, newId: () => string): Promise<number> {
    return transaction(this.pool, async (client) => {
      await client.query(named(LOCK_ORGANIZATION_SHARES, [organizationId]));
      let changed = 0;
      const members = new Set(
        (await client.query<{ id: string }>(named(MEMBERS, [organizationId]))).rows.map((a) => a.id),
      );
      // Recipients of account-targeted shares must stay members too; they are never added back on their own.
      const departed = (
        await client.query<{ share_id: string; account_id: string }>(named(DEPARTED, [organizationId]))
      ).rows;
      for (const r of departed) {
        await setDesired(client, r.share_id, r.account_id, 'disassociated', modified);
        changed++;
      }
      const shares = (
        await client.query<{ id: string; account_id: string }>(named(ORGANIZATION_SHARES, [organizationId]))
      ).rows;
      for (const share of shares) {
        const excluded = new Set(
          (await client.query<{ account_id: string }>(named(EXCLUDED, [share.id]))).rows.map(
            (e) => e.account_id,
          ),
        );
        const current = (
          await client.query<{ account_id: string; desired_status: string }>(
            named(CURRENT_RECIPIENTS, [share.id]),
          )
        ).rows;
        const plan = planOrganizationShare(members, share.account_id, excluded, current);
        for (const { accountId, to } of plan.change)
          await setDesired(client, share.id, accountId, to, modified);
        await insertRecipients(
          client,
          plan.add.map((accountId) => ({
            id: newId(),
            share_id: share.id,
            account_id: accountId,
            desired_status: 'associated' as const,
            status: 'associating' as const,
            created: modified,
            modified,
          })),
        );
        changed += plan.change.length + plan.add.length;
      }
      return changed;
    });
  }
}
