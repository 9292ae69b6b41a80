import { ConflictError, NotFoundError } from '../../http/errors.js';
import { OBJECT_NOT_FOUND } from '../../platform/tenancy/auth.js';
import type { ShareDetail, SharesStore, ShareView } from './store.js';

// The lookups every share and sub-object request goes through before its own work, over the shares store
// alone, so the sub-object services need the store part rather than the shares service.

/** The share, if `accountId` owns it; otherwise the same 404 as an unknown id. */
export async function ownedShare(
  shares: SharesStore,
  accountId: string,
  shareId: string,
): Promise<ShareView> {
  const share = await shares.get(shareId);
  if (!share || share.account_id !== accountId) throw new NotFoundError(OBJECT_NOT_FOUND);
  return share;
}

/** The owned share, refusing changes once it is being deleted. */
export async function ownedActiveShare(
  shares: SharesStore,
  accountId: string,
  shareId: string,
): Promise<ShareView> {
  const share = await ownedShare(shares, accountId, shareId);
  if (share.status !== 'active') throw shareNotActive(share.status);
  return share;
}

/** The share, if `accountId` owns it or currently receives it (one statement). */
export async function visibleShare(
  shares: SharesStore,
  accountId: string,
  shareId: string,
  includeResources = false,
): Promise<ShareDetail> {
  const share = await shares.visibleTo(accountId, shareId, includeResources);
  if (!share) throw new NotFoundError(OBJECT_NOT_FOUND);
  return share;
}

export function shareNotActive(status: string): ConflictError {
  return new ConflictError(`The share is ${status} and can no longer be changed`);
}

/** The account whose log records a change to the share: its owner. */
export function ownerOf(share: ShareView): { id: string; organization_id: string } {
  return { id: share.account_id, organization_id: share.organization_id };
}
