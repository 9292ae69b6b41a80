import type Database from 'better-sqlite3';
import type { RecipientRow } from '../../cloudflare/recipients/store.js';
import type { ShareRow } from '../../cloudflare/shares/store.js';
import type { DeliveryState, RecipientContext } from '../../engine/reconciler/store.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import { groupBy } from '../../lib/group-by.js';
import { prepared } from './database.js';
import { toResourceRow, type ResourceRecord } from './resources.js';

type AccountRecord = Omit<AccountRow, 'entitlements'> & { entitlements: string | null };
type DeliveryRecord = Omit<DeliveryState, 'terminal'> & { recipient_id: string; terminal: number };

/** The contexts of many recipients, by id; ids of recipients that no longer exist are absent. */
export function readRecipientContexts(
  db: Database.Database,
  recipientIds: string[],
): Map<string, RecipientContext> {
  // Synchronous reads on one connection: the batch sees one state, in five queries whatever its size.
  const out = new Map<string, RecipientContext>();
  const ids = JSON.stringify(recipientIds);
  const recipients = prepared(
    db,
    'SELECT * FROM share_recipients WHERE id IN (SELECT value FROM json_each(?))',
  ).all(ids) as RecipientRow[];
  if (recipients.length === 0) return out;
  const shareIds = JSON.stringify([...new Set(recipients.map((r) => r.share_id))]);
  const shares = new Map(
    (
      prepared(db, 'SELECT * FROM shares WHERE id IN (SELECT value FROM json_each(?))').all(
        shareIds,
      ) as ShareRow[]
    ).map((s) => [s.id, s]),
  );
  const resources = groupBy(
    prepared(
      db,
      `SELECT * FROM share_resources WHERE share_id IN (SELECT value FROM json_each(?))
         ORDER BY created, id`,
    ).all(shareIds) as ResourceRecord[],
    (r) => r.share_id,
  );
  const accounts = new Map(
    (
      prepared(db, 'SELECT * FROM accounts WHERE id IN (SELECT value FROM json_each(?))').all(
        JSON.stringify([...new Set(recipients.map((r) => r.account_id))]),
      ) as AccountRecord[]
    ).map((a) => [a.id, a]),
  );
  const deliveries = groupBy(
    prepared(
      db,
      `SELECT recipient_id, share_resource_id, applied_version, error, terminal, error_version
         FROM recipient_resources WHERE recipient_id IN (SELECT value FROM json_each(?))`,
    ).all(ids) as DeliveryRecord[],
    (d) => d.recipient_id,
  );
  for (const recipient of recipients) {
    const delivered = new Map<string, DeliveryState>();
    for (const d of deliveries.get(recipient.id) ?? []) {
      delivered.set(d.share_resource_id, {
        share_resource_id: d.share_resource_id,
        applied_version: d.applied_version,
        error: d.error,
        terminal: d.terminal === 1,
        error_version: d.error_version,
      });
    }
    const account = accounts.get(recipient.account_id) as AccountRecord;
    out.set(recipient.id, {
      recipient,
      share: shares.get(recipient.share_id) as ShareRow,
      account: {
        ...account,
        entitlements:
          account.entitlements === null
            ? null
            : (JSON.parse(account.entitlements) as AccountRow['entitlements']),
      },
      resources: (resources.get(recipient.share_id) ?? [])
        .filter((r) => r.status !== 'deleted' || delivered.has(r.id))
        .map(toResourceRow),
      delivered,
    });
  }
  return out;
}
