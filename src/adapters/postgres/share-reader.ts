import type { ShareReader } from '../../cloudflare/shares/reader.js';

/**
 * The condition on `shares s` that the share (placeholder `share`) is one `reader` (placeholder `account`)
 * may read: owned, or, for an owner-or-recipient reader, received by a recipient associating or associated.
 */
export function readableShare(reader: ShareReader, share: string, account: string): string {
  const owned = `s.account_id = ${account}`;
  if (reader.as === 'owner') return `s.id = ${share} AND ${owned}`;
  return `s.id = ${share} AND (${owned} OR EXISTS (SELECT 1 FROM share_recipients sr
    WHERE sr.share_id = s.id AND sr.account_id = ${account} AND sr.status IN ('associating', 'associated')))`;
}

/** `columns` (a comma-separated list) each prefixed with a table alias. */
export function prefixed(alias: string, columns: string): string {
  return columns
    .split(',')
    .map((c) => `${alias}.${c.trim()}`)
    .join(', ');
}
