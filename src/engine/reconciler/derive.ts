import { planOrganizationShare } from './organization.js';
import type { ReconcilerStore } from './store.js';

/** Plans made against a share that changed before they could be written, after which the item is retried. */
const STALE_PLANS = 5;

/**
 * Derives an active organization-targeted share's recipients from its organization's members and its
 * exclusions, creating at most `limit` new recipients (and their work): reads the share's state, plans in
 * the domain, and has the store write the plan only if that state still holds (otherwise reads again).
 * `more` says that members still lack a recipient: call again.
 */
export async function deriveShareRecipients(
  store: Pick<ReconcilerStore, 'organizationShare' | 'writeShareRecipients'>,
  shareId: string,
  modified: string,
  newId: () => string,
  limit: number,
): Promise<{ changed: number; more: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const read = await store.organizationShare(shareId);
    if (!read) return { changed: 0, more: false };
    const plan = planOrganizationShare(
      new Set(read.members),
      read.share.account_id,
      new Set(read.excluded),
      read.current,
    );
    const add = plan.add.slice(0, limit).map((accountId) => ({ id: newId(), accountId }));
    if (await store.writeShareRecipients(read, { change: plan.change, add }, modified))
      return { changed: plan.change.length + add.length, more: add.length < plan.add.length };
    if (attempt === STALE_PLANS)
      throw new Error(`share ${shareId} changed under every plan of its recipients`);
  }
}
