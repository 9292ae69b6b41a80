import { isDeepStrictEqual } from 'node:util';
import type { OrganizationShareState } from '../engine/reconciler/store.js';

/**
 * Whether two reads of an organization-targeted share's state agree, so a plan made from the first may be
 * written over the second. Compared as sets: the order rows come back in is the database's, not the data.
 */
export function sameOrganizationShare(
  a: OrganizationShareState,
  b: OrganizationShareState | undefined,
): boolean {
  return b !== undefined && isDeepStrictEqual(canonical(a), canonical(b));
}

function canonical(state: OrganizationShareState) {
  return {
    share: {
      id: state.share.id,
      account_id: state.share.account_id,
      organization_id: state.share.organization_id,
    },
    members: [...state.members].sort(),
    excluded: [...state.excluded].sort(),
    current: state.current.map((r) => `${r.account_id} ${r.desired_status}`).sort(),
  };
}
