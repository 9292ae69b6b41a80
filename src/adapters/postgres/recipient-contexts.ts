import type pg from 'pg';
import type { RecipientRow } from '../../cloudflare/recipients/store.js';
import type { ResourceRow } from '../../cloudflare/resources/store.js';
import type { ShareRow } from '../../cloudflare/shares/store.js';
import type { DeliveryState, RecipientContext } from '../../engine/reconciler/store.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import { groupBy } from '../../lib/group-by.js';
import { named } from './database.js';

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
 * Everything a recipient pass needs, for a whole batch of recipients in one statement, hence one snapshot
 * (as SQLite's synchronous reads are): each recipient with its share and account (columns prefixed r_, s_, a_) and its deliveries
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
    WHERE r.id = ANY($1::char(32)[]))
  SELECT h.*, ${SHARE_RESOURCE_COLUMNS.map((c) => `sr.${c}`).join(', ')}
  FROM h LEFT JOIN share_resources sr ON sr.share_id = h.r_share_id
  ORDER BY h.r_id, sr.created, sr.id`;

type Row = Record<string, unknown>;

function pick<T>(row: Row, prefix: string, columns: string[]): T {
  const out: Row = {};
  for (const c of columns) out[c] = row[prefix + c];
  return out as T;
}

/** The contexts of many recipients, by id, in one statement; ids of recipients that no longer exist are absent. */
export async function readRecipientContexts(
  pool: pg.Pool,
  recipientIds: string[],
): Promise<Map<string, RecipientContext>> {
  const out = new Map<string, RecipientContext>();
  if (recipientIds.length === 0) return out;
  const { rows } = await pool.query<Row>(named(CONTEXT, [recipientIds]));
  for (const [id, group] of groupBy(rows, (r) => r.r_id as string)) {
    const head = group[0] as Row;
    const delivered = new Map<string, DeliveryState>();
    for (const d of (head.deliveries as DeliveryState[] | null) ?? []) delivered.set(d.share_resource_id, d);
    const resources = group
      .filter((r) => r.id !== null)
      .map((r) => pick<ResourceRow>(r, '', SHARE_RESOURCE_COLUMNS))
      .filter((r) => r.status !== 'deleted' || delivered.has(r.id));
    out.set(id, {
      recipient: pick<RecipientRow>(head, 'r_', RECIPIENT_COLUMNS),
      share: pick<ShareRow>(head, 's_', SHARE_COLUMNS),
      account: pick<AccountRow>(head, 'a_', ACCOUNT_COLUMNS),
      resources,
      delivered,
    });
  }
  return out;
}
