import type { OrganizationShareState } from '../../engine/reconciler/store.js';
import { named, type Queryable } from './database.js';

export const ORGANIZATION_SHARE = `SELECT id, account_id, organization_id FROM shares
  WHERE id = $1 AND target_type = 'organization' AND status = 'active'`;
/** The same, locked: API writes on a share lock it first, so its exclusions and recipients hold. */
export const LOCK_ORGANIZATION_SHARE = `${ORGANIZATION_SHARE} FOR UPDATE`;
export const MEMBERS = 'SELECT id FROM accounts WHERE organization_id = $1';
const EXCLUDED = 'SELECT account_id FROM share_excluded_recipients WHERE share_id = $1';
const CURRENT_RECIPIENTS = 'SELECT account_id, desired_status FROM share_recipients WHERE share_id = $1';

/** What an active organization-targeted share's recipients derive from, the share read with `shareQuery`. */
export async function readOrganizationShare(
  db: Queryable,
  shareQuery: string,
  shareId: string,
): Promise<OrganizationShareState | undefined> {
  const share = (await db.query<OrganizationShareState['share']>(named(shareQuery, [shareId]))).rows[0];
  if (!share) return undefined;
  const members = (await db.query<{ id: string }>(named(MEMBERS, [share.organization_id]))).rows;
  const excluded = (await db.query<{ account_id: string }>(named(EXCLUDED, [shareId]))).rows;
  const current = (
    await db.query<OrganizationShareState['current'][number]>(named(CURRENT_RECIPIENTS, [shareId]))
  ).rows;
  return {
    share: { id: share.id, account_id: share.account_id, organization_id: share.organization_id },
    members: members.map((a) => a.id),
    excluded: excluded.map((e) => e.account_id),
    current,
  };
}
