import type Database from 'better-sqlite3';
import type { ClaimOptions, WorkItem, WorkKind } from '../../engine/reconciler/store.js';
import { prepared } from './database.js';

type Db = Database.Database;

/**
 * Every enqueue takes `due`: when the item becomes due (epoch ms, 0 = at once; see WorkTiming). A repeated
 * request takes the new due time and bumps the generation, so an in-flight pass re-runs it.
 */
const ON_CONFLICT = `ON CONFLICT (kind, id) DO UPDATE SET generation = generation + 1, due_at = excluded.due_at, attempts = 0`;

export function enqueue(db: Db, kind: WorkKind, id: string, due: number): void {
  prepared(db, `INSERT INTO reconcile_work (kind, id, due_at) VALUES (?, ?, ?) ${ON_CONFLICT}`).run(
    kind,
    id,
    due,
  );
}

export function enqueueRecipientOf(db: Db, shareId: string, accountId: string, due: number): void {
  prepared(
    db,
    `INSERT INTO reconcile_work (kind, id, due_at)
     SELECT 'recipient', id, ? FROM share_recipients WHERE share_id = ? AND account_id = ? ${ON_CONFLICT}`,
  ).run(due, shareId, accountId);
}

/** Every recipient of the share (or only those meant to hold its resources). */
export function enqueueShareRecipients(db: Db, shareId: string, due: number, onlyAssociated = false): void {
  prepared(
    db,
    `INSERT INTO reconcile_work (kind, id, due_at)
     SELECT 'recipient', id, ? FROM share_recipients
     WHERE share_id = ? ${onlyAssociated ? "AND desired_status = 'associated'" : ''} ${ON_CONFLICT}`,
  ).run(due, shareId);
}

/** A resource was added or changed: recipients that hold the share go back to associating until applied. */
export function resourceChanged(db: Db, shareId: string, modified: string, due: number): void {
  prepared(
    db,
    `UPDATE share_recipients SET status = 'associating', modified = ?
     WHERE share_id = ? AND desired_status = 'associated' AND status = 'associated'`,
  ).run(modified, shareId);
  enqueueShareRecipients(db, shareId, due, true);
}

/** Every recipient of the account that is meant to hold its share's resources (entitlements changed). */
export function enqueueAccountRecipients(db: Db, accountId: string, due: number): void {
  prepared(
    db,
    `INSERT INTO reconcile_work (kind, id, due_at)
     SELECT 'recipient', id, ? FROM share_recipients WHERE account_id = ? AND desired_status = 'associated' ${ON_CONFLICT}`,
  ).run(due, accountId);
}

/** The claim's candidate filter for options (the default claim's text is the one in `claim`). */
function claimFilter(options: ClaimOptions): string {
  const where = ['(lease_expires IS NULL OR lease_expires <= @now)'];
  if (!options.ignoreDelays) where.push('due_at <= @now');
  if (options.shareId !== undefined) {
    where.push(`((kind = 'share' AND id = @share)
      OR (kind = 'recipient' AND id IN (SELECT id FROM share_recipients WHERE share_id = @share)))`);
  }
  if (options.skip?.length) where.push(`kind || ':' || id NOT IN (SELECT value FROM json_each(@skip))`);
  return where.join(' AND ');
}

/** Leases up to `limit` due, unleased (or lease-expired) items to `owner` until `now + leaseMs`. */
export function claim(
  db: Db,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
  options?: ClaimOptions,
): WorkItem[] {
  if (options) {
    const params: Record<string, unknown> = { owner, now, expires: now + leaseMs, limit };
    if (options.shareId !== undefined) params.share = options.shareId;
    if (options.skip?.length) params.skip = JSON.stringify(options.skip);
    return prepared(
      db,
      `UPDATE reconcile_work SET lease_owner = @owner, lease_expires = @expires
       WHERE rowid IN (
         SELECT rowid FROM reconcile_work WHERE ${claimFilter(options)}
         ORDER BY due_at LIMIT @limit)
       RETURNING kind, id, generation, attempts`,
    ).all(params) as WorkItem[];
  }
  return prepared(
    db,
    `UPDATE reconcile_work SET lease_owner = @owner, lease_expires = @expires
     WHERE rowid IN (
       SELECT rowid FROM reconcile_work
       WHERE due_at <= @now AND (lease_expires IS NULL OR lease_expires <= @now)
       ORDER BY due_at LIMIT @limit)
     RETURNING kind, id, generation, attempts`,
  ).all({ owner, now, expires: now + leaseMs, limit }) as WorkItem[];
}

/** Retires the item if nobody asked for it again meanwhile; otherwise releases it, due for another pass. */
export function complete(db: Db, owner: string, item: WorkItem): void {
  const gone = prepared(
    db,
    'DELETE FROM reconcile_work WHERE kind = ? AND id = ? AND generation = ? AND lease_owner = ?',
  ).run(item.kind, item.id, item.generation, owner).changes;
  if (gone === 0) release(db, owner, item);
}

function release(db: Db, owner: string, item: WorkItem): void {
  prepared(
    db,
    `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL
     WHERE kind = ? AND id = ? AND lease_owner = ?`,
  ).run(item.kind, item.id, owner);
}

/** Releases the item to run again at `dueAt`. */
export function retry(db: Db, owner: string, item: WorkItem, dueAt: number, error: string): void {
  // A newer request (generation moved) keeps its own due time and must not wait for this item's backoff.
  prepared(
    db,
    `UPDATE reconcile_work SET lease_owner = NULL, lease_expires = NULL, last_error = @error,
       attempts = CASE WHEN generation = @generation THEN attempts + 1 ELSE attempts END,
       due_at = CASE WHEN generation = @generation THEN @due ELSE due_at END
     WHERE kind = @kind AND id = @id AND lease_owner = @owner`,
  ).run({ kind: item.kind, id: item.id, owner, generation: item.generation, due: dueAt, error });
}
