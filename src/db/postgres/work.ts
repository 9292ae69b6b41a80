import type pg from 'pg';
import type { WorkKind } from '../../reconciler/store.js';
import { named } from './database.js';

/** A repeated request makes the item due now and bumps its generation, so an in-flight pass re-runs it. */
const ON_CONFLICT = `ON CONFLICT (kind, id) DO UPDATE
  SET generation = reconcile_work.generation + 1, due_at = 0, attempts = 0`;

const ENQUEUE = `INSERT INTO reconcile_work (kind, id) VALUES ($1, $2) ${ON_CONFLICT}`;

const ENQUEUE_RECIPIENT_OF = `INSERT INTO reconcile_work (kind, id)
  SELECT 'recipient', id FROM share_recipients WHERE share_id = $1 AND account_id = $2 ${ON_CONFLICT}`;

const ENQUEUE_SHARE_RECIPIENTS = `INSERT INTO reconcile_work (kind, id)
  SELECT 'recipient', id FROM share_recipients WHERE share_id = $1 ${ON_CONFLICT}`;

const ENQUEUE_SHARE_ASSOCIATED_RECIPIENTS = `INSERT INTO reconcile_work (kind, id)
  SELECT 'recipient', id FROM share_recipients
  WHERE share_id = $1 AND desired_status = 'associated' ${ON_CONFLICT}`;

const REASSOCIATE_HOLDERS = `UPDATE share_recipients SET status = 'associating', modified = $1
  WHERE share_id = $2 AND desired_status = 'associated' AND status = 'associated'`;

const ENQUEUE_ACCOUNT_RECIPIENTS = `INSERT INTO reconcile_work (kind, id)
  SELECT 'recipient', id FROM share_recipients
  WHERE account_id = $1 AND desired_status = 'associated' ${ON_CONFLICT}`;

export async function enqueue(client: pg.PoolClient, kind: WorkKind, id: string): Promise<void> {
  await client.query(named(ENQUEUE, [kind, id]));
}

const ENQUEUE_MANY = `INSERT INTO reconcile_work (kind, id)
  SELECT $1, id FROM unnest($2::text[]) AS u (id) ${ON_CONFLICT}`;

/** `enqueue` for many items of one kind in one statement; `ids` must be distinct. */
export async function enqueueMany(client: pg.PoolClient, kind: WorkKind, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(named(ENQUEUE_MANY, [kind, ids]));
}

export async function enqueueRecipientOf(
  client: pg.PoolClient,
  shareId: string,
  accountId: string,
): Promise<void> {
  await client.query(named(ENQUEUE_RECIPIENT_OF, [shareId, accountId]));
}

/** Every recipient of the share (or only those meant to hold its resources). */
export async function enqueueShareRecipients(
  client: pg.PoolClient,
  shareId: string,
  onlyAssociated = false,
): Promise<void> {
  await client.query(
    named(onlyAssociated ? ENQUEUE_SHARE_ASSOCIATED_RECIPIENTS : ENQUEUE_SHARE_RECIPIENTS, [shareId]),
  );
}

/** A resource was added or changed: recipients that hold the share go back to associating until applied. */
export async function resourceChanged(
  client: pg.PoolClient,
  shareId: string,
  modified: string,
): Promise<void> {
  await client.query(named(REASSOCIATE_HOLDERS, [modified, shareId]));
  await enqueueShareRecipients(client, shareId, true);
}

/** Every recipient of the account that is meant to hold its share's resources (entitlements changed). */
export async function enqueueAccountRecipients(client: pg.PoolClient, accountId: string): Promise<void> {
  await client.query(named(ENQUEUE_ACCOUNT_RECIPIENTS, [accountId]));
}
