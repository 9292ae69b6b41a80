import { auditEntry, SYSTEM_ACTOR, type AuditEntry } from '../../platform/audit/entry.js';
import type { AssociationStatus } from '../../cloudflare/recipients/store.js';
import type { ResourceRow } from '../../cloudflare/resources/store.js';
import type { ShareRow } from '../../cloudflare/shares/store.js';
import type { AbandonedShare, DeliveryState, RecipientContext, ShareFinalization } from './store.js';

/**
 * What the reconciler's work looks like in the audit logs, as system entries: the recipient account sees a
 * resource arrive, change or go; the owner sees its recipients settle and deliveries fail.
 */

type State = Omit<DeliveryState, 'share_resource_id'>;

const ownerAccount = (share: Pick<ShareRow, 'account_id' | 'organization_id'>) => ({
  id: share.account_id,
  organization_id: share.organization_id,
});

/** The entries of one delivery-state write, if it changes what the recipient holds or a new failure. */
export function deliveryEntries(
  ctx: RecipientContext,
  resource: ResourceRow,
  next: State | null,
  time: string,
): AuditEntry[] {
  const { share, recipient, account } = ctx;
  const prev = ctx.delivered.get(resource.id);
  const held = prev?.applied_version ?? null;
  const now = next?.applied_version ?? null;
  const target = { type: resource.resource_type, id: resource.resource_id };
  const metadata = {
    share_id: share.id,
    share_resource_id: resource.id,
    owner_account_id: share.account_id,
    recipient_id: recipient.id,
  };
  const entries: AuditEntry[] = [];
  if (now !== null && now !== held) {
    entries.push(
      auditEntry(SYSTEM_ACTOR, time, {
        account,
        action: held === null ? 'create' : 'update',
        description: held === null ? 'Shared resource delivered' : 'Shared resource updated',
        resource: target,
        old: held === null ? null : { resource_version: held },
        new: { resource_version: now, meta: resource.meta },
        metadata,
      }),
    );
  } else if (now === null && held !== null && (next === null || next.error === '')) {
    entries.push(
      auditEntry(SYSTEM_ACTOR, time, {
        account,
        action: 'delete',
        description: 'Shared resource removed',
        resource: target,
        old: { resource_version: held },
        metadata,
      }),
    );
  }
  if (next && next.error !== '' && next.error !== prev?.error) {
    entries.push(
      auditEntry(SYSTEM_ACTOR, time, {
        account: ownerAccount(share),
        action: 'update',
        result: 'failure',
        description: next.terminal ? 'Delivery failed' : 'Delivery failed, retrying',
        resource: { type: 'share_recipient', id: recipient.id },
        new: {
          account_id: recipient.account_id,
          resource_id: resource.resource_id,
          resource_version: resource.resource_version,
          error: next.error,
          terminal: next.terminal,
        },
        metadata: { share_id: share.id, share_resource_id: resource.id },
      }),
    );
  }
  return entries;
}

/** The owner's entry for a recipient settling in `to`. */
export function moveEntries(ctx: RecipientContext, to: AssociationStatus, time: string): AuditEntry[] {
  const { share, recipient } = ctx;
  return [
    auditEntry(SYSTEM_ACTOR, time, {
      account: ownerAccount(share),
      action: 'update',
      description: `Share recipient ${to}`,
      resource: { type: 'share_recipient', id: recipient.id },
      old: { account_id: recipient.account_id, association_status: recipient.status },
      new: { account_id: recipient.account_id, association_status: to },
      metadata: { share_id: share.id },
    }),
  ];
}

/** The owner's entries for resources and the share reaching `deleted`. */
export function finalizeEntries(share: ShareRow, done: ShareFinalization, time: string): AuditEntry[] {
  const account = ownerAccount(share);
  const entries = done.deletedResources.map((id) =>
    auditEntry(SYSTEM_ACTOR, time, {
      account,
      action: 'delete',
      description: 'Share resource deleted',
      resource: { type: 'share_resource', id },
      old: { status: 'deleting' },
      new: { status: 'deleted' },
      metadata: { share_id: share.id },
    }),
  );
  if (done.shareDeleted) {
    entries.push(
      auditEntry(SYSTEM_ACTOR, time, {
        account,
        action: 'delete',
        description: 'Share deleted',
        resource: { type: 'share', id: share.id },
        old: { status: 'deleting' },
        new: { status: 'deleted' },
        metadata: { share_id: share.id },
      }),
    );
  }
  return entries;
}

/** Why a share started deleting without a request: its owner left the share's organization. */
export const OWNER_LEFT = 'Share deleted: its owner account left the organization';

/** The owner's entries for the shares its departure started deleting. */
export function ownerLeftEntries(shares: AbandonedShare[], time: string): AuditEntry[] {
  return shares.map((share) =>
    auditEntry(SYSTEM_ACTOR, time, {
      account: ownerAccount(share),
      action: 'delete',
      description: OWNER_LEFT,
      resource: { type: 'share', id: share.id },
      old: { status: 'active' },
      new: { status: 'deleting' },
      metadata: {
        share_id: share.id,
        reason: 'owner_left_organization',
        organization_id: share.organization_id,
      },
    }),
  );
}
