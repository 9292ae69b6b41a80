import type { AssociationStatus, DesiredStatus } from '../../cloudflare/recipients/store.js';

/**
 * Every status change rshare makes, in one place. The API moves statuses "backward" (toward work to
 * do) in the same transaction as the request; the reconciler moves them "forward" once the work is done.
 */
export const TRANSITIONS = [
  // Recipients.
  {
    entity: 'recipient',
    from: 'associating',
    to: 'associated',
    by: 'reconciler',
    when: 'every active resource is applied at its current version, or failed terminally at it',
  },
  {
    entity: 'recipient',
    from: 'associated',
    to: 'associating',
    by: 'api',
    when: 'a resource was added to or updated in the share',
  },
  {
    entity: 'recipient',
    from: 'associating',
    to: 'disassociating',
    by: 'api or organization sync',
    when: 'the recipient was removed or excluded, left the organization, or the share was deleted',
  },
  {
    entity: 'recipient',
    from: 'associated',
    to: 'disassociating',
    by: 'api or organization sync',
    when: 'the recipient was removed or excluded, left the organization, or the share was deleted',
  },
  {
    entity: 'recipient',
    from: 'disassociating',
    to: 'disassociated',
    by: 'reconciler',
    when: 'every resource is removed from the recipient account',
  },
  {
    entity: 'recipient',
    from: 'disassociating',
    to: 'associating',
    by: 'api or organization sync',
    when: 'the account was added back, re-included, or rejoined the organization',
  },
  {
    entity: 'recipient',
    from: 'disassociated',
    to: 'associating',
    by: 'api or organization sync',
    when: 'the account was added back, re-included, or rejoined the organization',
  },
  // Resources and shares.
  {
    entity: 'resource',
    from: 'active',
    to: 'deleting',
    by: 'api',
    when: 'the resource or its share was deleted',
  },
  {
    entity: 'resource',
    from: 'deleting',
    to: 'deleted',
    by: 'reconciler',
    when: 'it is removed from every recipient account',
  },
  { entity: 'share', from: 'active', to: 'deleting', by: 'api', when: 'the share was deleted' },
  {
    entity: 'share',
    from: 'deleting',
    to: 'deleted',
    by: 'reconciler',
    when: 'every recipient is disassociated and every resource deleted',
  },
] as const;

export type Transition = (typeof TRANSITIONS)[number];

/** The status a recipient settles in, given where it should go and whether the work there is done. */
export function recipientStatus(desired: DesiredStatus, converged: boolean): AssociationStatus {
  if (desired === 'associated') return converged ? 'associated' : 'associating';
  return converged ? 'disassociated' : 'disassociating';
}

/** Throws on a status change not declared above: a bug, never a client error. */
export function assertTransition(entity: Transition['entity'], from: string, to: string): void {
  if (from === to) return;
  if (!TRANSITIONS.some((t) => t.entity === entity && t.from === from && t.to === to)) {
    throw new Error(`undeclared ${entity} transition ${from} -> ${to}`);
  }
}
