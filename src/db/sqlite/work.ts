import type Database from 'better-sqlite3';
import type { WorkKind } from '../../reconciler/store.js';
import { prepared } from './database.js';

type Db = Database.Database;

/** A repeated request makes the item due now and bumps its generation, so an in-flight pass re-runs it. */
const ON_CONFLICT = `ON CONFLICT (kind, id) DO UPDATE SET generation = generation + 1, due_at = 0, attempts = 0`;

export function enqueue(db: Db, kind: WorkKind, id: string): void {
  prepared(db, `INSERT INTO reconcile_work (kind, id) VALUES (?, ?) ${ON_CONFLICT}`).run(kind, id);
}

export function enqueueRecipientOf(db: Db, shareId: string, accountId: string): void {
  prepared(
    db,
    `INSERT INTO reconcile_work (kind, id)
     SELECT 'recipient', id FROM share_recipients WHERE share_id = ? AND account_id = ? ${ON_CONFLICT}`,
  ).run(shareId, accountId);
}

/** Every recipient of the share (or only those meant to hold its resources). */
export function enqueueShareRecipients(db: Db, shareId: string, onlyAssociated = false): void {
  prepared(
    db,
    `INSERT INTO reconcile_work (kind, id)
     SELECT 'recipient', id FROM share_recipients
     WHERE share_id = ? ${onlyAssociated ? "AND desired_status = 'associated'" : ''} ${ON_CONFLICT}`,
  ).run(shareId);
}

/** A resource was added or changed: recipients that hold the share go back to associating until applied. */
export function resourceChanged(db: Db, shareId: string, modified: string): void {
  prepared(
    db,
    `UPDATE share_recipients SET status = 'associating', modified = ?
     WHERE share_id = ? AND desired_status = 'associated' AND status = 'associated'`,
  ).run(modified, shareId);
  enqueueShareRecipients(db, shareId, true);
}

/** Every recipient of the account that is meant to hold its share's resources (entitlements changed). */
export function enqueueAccountRecipients(db: Db, accountId: string): void {
  prepared(
    db,
    `INSERT INTO reconcile_work (kind, id)
     SELECT 'recipient', id FROM share_recipients WHERE account_id = ? AND desired_status = 'associated' ${ON_CONFLICT}`,
  ).run(accountId);
}
