import type pg from 'pg';
import type { WorkKind } from '../../engine/reconciler/store.js';
import { named } from './database.js';

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
