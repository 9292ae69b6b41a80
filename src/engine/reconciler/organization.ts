import type { DesiredStatus } from '../../cloudflare/recipients/store.js';

export interface OrganizationSharePlan {
  /** Existing recipients whose desired status must change. */
  change: { accountId: string; to: DesiredStatus }[];
  /** Members with no recipient yet. */
  add: string[];
}

/**
 * What an organization-targeted share's recipients must become: every member except the owner and
 * excluded accounts associated, everyone else disassociated. Pure: `derive.ts` reads its inputs and writes it.
 */
export function planOrganizationShare(
  members: ReadonlySet<string>,
  ownerId: string,
  excluded: ReadonlySet<string>,
  current: readonly { account_id: string; desired_status: string }[],
): OrganizationSharePlan {
  const wanted = new Set([...members].filter((id) => id !== ownerId && !excluded.has(id)));
  const known = new Set(current.map((r) => r.account_id));
  const change: OrganizationSharePlan['change'] = [];
  for (const r of current) {
    const to: DesiredStatus = wanted.has(r.account_id) ? 'associated' : 'disassociated';
    if (r.desired_status !== to) change.push({ accountId: r.account_id, to });
  }
  return { change, add: [...wanted].filter((id) => !known.has(id)) };
}
