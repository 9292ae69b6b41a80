import type pg from 'pg';
import type { ClaimOptions, WorkItem, WorkKind } from '../../engine/reconciler/store.js';
import { named, type Queryable } from './database.js';

/**
 * Every enqueue takes `due`: when the item becomes due (epoch ms, 0 = at once; see WorkTiming). A repeated
 * request takes the new due time and bumps the generation, so an in-flight pass re-runs it.
 */
export const ON_CONFLICT = `ON CONFLICT (kind, id) DO UPDATE
  SET generation = reconcile_work.generation + 1, due_at = excluded.due_at, attempts = 0`;

const ENQUEUE = `INSERT INTO reconcile_work (kind, id, due_at) VALUES ($1, $2, $3) ${ON_CONFLICT}`;

const ENQUEUE_RECIPIENT_OF = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT 'recipient', id, $3::bigint FROM share_recipients WHERE share_id = $1 AND account_id = $2 ${ON_CONFLICT}`;

const ENQUEUE_SHARE_RECIPIENTS = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT 'recipient', id, $2::bigint FROM share_recipients WHERE share_id = $1 ${ON_CONFLICT}`;

const ENQUEUE_SHARE_ASSOCIATED_RECIPIENTS = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT 'recipient', id, $2::bigint FROM share_recipients
  WHERE share_id = $1 AND desired_status = 'associated' ${ON_CONFLICT}`;

const REASSOCIATE_HOLDERS = `UPDATE share_recipients SET status = 'associating', modified = $1
  WHERE share_id = $2 AND desired_status = 'associated' AND status = 'associated'`;

const ENQUEUE_ACCOUNT_RECIPIENTS = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT 'recipient', id, $2::bigint FROM share_recipients
  WHERE account_id = $1 AND desired_status = 'associated' ${ON_CONFLICT}`;

export async function enqueue(client: pg.PoolClient, kind: WorkKind, id: string, due: number): Promise<void> {
  await client.query(named(ENQUEUE, [kind, id, due]));
}

const ENQUEUE_MANY = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT $1, id, $3::bigint FROM unnest($2::text[]) AS u (id) ${ON_CONFLICT}`;

/** `enqueue` for many items of one kind in one statement; `ids` must be distinct. */
export async function enqueueMany(
  client: pg.PoolClient,
  kind: WorkKind,
  ids: string[],
  due: number,
): Promise<void> {
  if (ids.length === 0) return;
  await client.query(named(ENQUEUE_MANY, [kind, ids, due]));
}

export async function enqueueRecipientOf(
  client: pg.PoolClient,
  shareId: string,
  accountId: string,
  due: number,
): Promise<void> {
  await client.query(named(ENQUEUE_RECIPIENT_OF, [shareId, accountId, due]));
}

/** Every recipient of the share (or only those meant to hold its resources). */
export async function enqueueShareRecipients(
  client: pg.PoolClient,
  shareId: string,
  due: number,
  onlyAssociated = false,
): Promise<void> {
  await client.query(
    named(onlyAssociated ? ENQUEUE_SHARE_ASSOCIATED_RECIPIENTS : ENQUEUE_SHARE_RECIPIENTS, [shareId, due]),
  );
}

/** A resource was added or changed: recipients that hold the share go back to associating until applied. */
export async function resourceChanged(
  client: pg.PoolClient,
  shareId: string,
  modified: string,
  due: number,
): Promise<void> {
  await client.query(named(REASSOCIATE_HOLDERS, [modified, shareId]));
  await enqueueShareRecipients(client, shareId, due, true);
}

/** Every recipient of the account that is meant to hold its share's resources (entitlements changed). */
export async function enqueueAccountRecipients(
  client: pg.PoolClient,
  accountId: string,
  due: number,
): Promise<void> {
  await client.query(named(ENQUEUE_ACCOUNT_RECIPIENTS, [accountId, due]));
}

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

/**
 * The claim for options (reconcile-now calls): the same shape, with the candidates narrowed as asked. A
 * handful of texts, each a named statement. Parameters: $1 owner, $2 lease expiry, $3 now, $4 limit, then
 * the share id and the skipped keys when present.
 */
function claimWith(options: ClaimOptions): string {
  let n = 4;
  const where = ['(lease_expires IS NULL OR lease_expires <= $3)'];
  if (!options.ignoreDelays) where.push('due_at <= $3');
  if (options.shareId !== undefined) {
    const share = `$${++n}`;
    // As one key list, so the share's items are found through the primary key, not by a scan.
    where.push(`(kind, id) IN (SELECT 'share'::text, ${share}::char(32)
      UNION ALL SELECT 'recipient', id FROM share_recipients WHERE share_id = ${share}::char(32))`);
  }
  if (options.skip?.length) where.push(`NOT (kind || ':' || id = ANY($${++n}::text[]))`);
  return `UPDATE reconcile_work w SET lease_owner = $1, lease_expires = $2
  FROM (
    SELECT kind, id FROM reconcile_work
    WHERE ${where.join(' AND ')}
    ORDER BY due_at LIMIT $4
    FOR UPDATE SKIP LOCKED) due
  WHERE w.kind = due.kind AND w.id = due.id
  RETURNING w.kind, w.id, w.generation, w.attempts`;
}

// A newer request (generation moved) keeps its own due time and must not wait for this item's backoff.
const RETRY = `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL, last_error = $1,
    attempts = CASE WHEN generation = $2 THEN attempts + 1 ELSE attempts END,
    due_at = CASE WHEN generation = $2 THEN $3::bigint ELSE due_at END
  WHERE kind = $4 AND id = $5 AND lease_owner = $6`;

const COMPLETE = `DELETE FROM reconcile_work
  WHERE kind = $1 AND id = $2 AND generation = $3 AND lease_owner = $4`;

const RELEASE = `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL
  WHERE kind = $1 AND id = $2 AND lease_owner = $3`;

/** Leases up to `limit` due, unleased (or lease-expired) items to `owner` until `now + leaseMs`. */
export async function claim(
  db: Queryable,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
  options?: ClaimOptions,
): Promise<WorkItem[]> {
  const params: unknown[] = [owner, now + leaseMs, now, limit];
  if (!options) return (await db.query<WorkItem>(named(CLAIM, params))).rows;
  if (options.shareId !== undefined) params.push(options.shareId);
  if (options.skip?.length) params.push(options.skip);
  return (await db.query<WorkItem>(named(claimWith(options), params))).rows;
}

/** Retires the item if nobody asked for it again meanwhile; otherwise releases it, due for another pass. */
export async function complete(db: Queryable, owner: string, item: WorkItem): Promise<void> {
  const { rowCount } = await db.query(named(COMPLETE, [item.kind, item.id, item.generation, owner]));
  if (rowCount === 0) await db.query(named(RELEASE, [item.kind, item.id, owner]));
}

/** Releases the item to run again at `dueAt`. */
export async function retry(
  db: Queryable,
  owner: string,
  item: WorkItem,
  dueAt: number,
  error: string,
): Promise<void> {
  await db.query(named(RETRY, [error, item.generation, dueAt, item.kind, item.id, owner]));
}
