import type { ShareReader } from '../../cloudflare/shares/reader.js';

/**
 * The condition on `shares s` that the share (@share) is one `reader` (@acct) may read: owned, or, for an
 * owner-or-recipient reader, received by a recipient associating or associated.
 */
export function readableShare(reader: ShareReader): string {
  if (reader.as === 'owner') return 's.id = @share AND s.account_id = @acct';
  return `s.id = @share AND (s.account_id = @acct OR EXISTS (SELECT 1 FROM share_recipients sr
    WHERE sr.share_id = s.id AND sr.account_id = @acct AND sr.status IN ('associating', 'associated')))`;
}
