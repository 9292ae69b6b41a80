import type Database from 'better-sqlite3';
import type { WorkKind } from '../../engine/reconciler/store.js';
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
