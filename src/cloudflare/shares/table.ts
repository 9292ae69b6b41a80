import { Type, type Static } from '@sinclair/typebox';
import { StoredId, StoredStamp } from '../../http/common-schemas.js';
import { stateTable } from '../../lib/table.js';
import { ShareName, ShareStatus, TargetType } from './schemas.js';

/*
 * The shares tables, declared once for every whole-table move (state snapshot and restore, the store copy):
 * a new column on shares is added here (and to the store's SQL and the two migrations), nowhere else.
 */

/** A share's stored columns as a state snapshot holds them (the document adds its tags). */
export const ShareRecord = Type.Object({
  id: StoredId,
  account_id: StoredId,
  organization_id: StoredId,
  name: ShareName,
  target_type: TargetType,
  status: ShareStatus,
  created: StoredStamp,
  modified: StoredStamp,
});
export type ShareRecord = Static<typeof ShareRecord>;

export const SHARES_TABLE = stateTable<ShareRecord>(
  'shares',
  {
    id: 'text',
    account_id: 'text',
    organization_id: 'text',
    name: 'text',
    target_type: 'text',
    status: 'text',
    created: 'timestamp',
    modified: 'timestamp',
  },
  ['id'],
  // Each share's place in its organization's creation order: recomputed on restore.
  { others: { org_seq: ['bigint', 'derived'] } },
);

export interface ShareTagRecord {
  share_id: string;
  key: string;
  value: string;
}

export const SHARE_TAGS_TABLE = stateTable<ShareTagRecord>(
  'share_tags',
  { share_id: 'text', key: 'text', value: 'text' },
  ['share_id', 'key'],
);
