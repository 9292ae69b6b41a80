import type { ShareReader } from '../cloudflare/shares/reader.js';

/**
 * The condition on `shares s` that the share (placeholder `share`) is one a reader of kind `as`
 * (placeholder `account`) may read: owned, or, for an owner-or-recipient reader, received by a recipient
 * associating or associated. The same text on both stores; only their placeholders differ.
 */
export function readableShare(as: ShareReader['as'], share: string, account: string): string {
  const owned = `s.account_id = ${account}`;
  if (as === 'owner') return `s.id = ${share} AND ${owned}`;
  return `s.id = ${share} AND (${owned} OR EXISTS (SELECT 1 FROM share_recipients sr
    WHERE sr.share_id = s.id AND sr.account_id = ${account} AND sr.status IN ('associating', 'associated')))`;
}
