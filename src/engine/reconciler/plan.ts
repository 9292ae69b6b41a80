import type { AccountRow } from '../../platform/tenancy/store.js';
import type { ResourceRow } from '../../cloudflare/resources/store.js';
import type { ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import type { Delivery, DeliveryOutcome } from './drivers/types.js';
import type { DeliveryState, PendingDelivery, RecipientContext } from './store.js';

export const ENTITLEMENT_ERROR = 'Recipient is missing necessary entitlement';

type State = Omit<DeliveryState, 'share_resource_id'>;

/** What a step leaves behind: a delivery state to write (`null` clears it), and an error to retry on. */
export interface Settled {
  write?: State | null;
  retry?: string;
}

/** One resource of one recipient: the delivery to make, if any, and what its outcome leaves behind. */
export interface Step {
  ctx: RecipientContext;
  resource: ResourceRow;
  action?: Delivery['action'];
  /** Given the delivery's outcome (undefined when the step makes none). */
  settle(result: DeliveryOutcome | undefined): Settled;
}

/** The steps that converge one recipient: one per resource that needs a delivery or a state write. */
export function planRecipient(ctx: RecipientContext, types: ResourceTypeRegistry): Step[] {
  const { recipient, share, resources } = ctx;
  const holds = recipient.desired_status === 'associated' && share.status === 'active';
  const steps: Step[] = [];
  for (const resource of resources) {
    const step =
      holds && resource.status === 'active'
        ? planApply(ctx, resource, types.entitlementOf(resource.resource_type))
        : planRemove(ctx, resource);
    if (step) steps.push(step);
  }
  return steps;
}

/**
 * The deliveries to record as in doubt before they are made, so a kill between delivery and settle cannot
 * leave one unrecorded: an apply to an account that held nothing, or any removal (a removal recorded as
 * "applied" would look settled to a later apply, which would then skip an account that no longer holds it).
 */
export function inDoubt(steps: Step[]): PendingDelivery[] {
  return steps.flatMap((s) =>
    s.action === 'remove' || (s.action === 'apply' && !mayHold(s.ctx.delivered.get(s.resource.id)))
      ? [{ recipientId: s.ctx.recipient.id, shareResourceId: s.resource.id }]
      : [],
  );
}

/** Applies one resource at its current version. */
function planApply(ctx: RecipientContext, resource: ResourceRow, entitlement: string): Step | undefined {
  const state = ctx.delivered.get(resource.id);
  const version = resource.resource_version;
  const allowed = entitled(ctx.account, entitlement);
  if (allowed && state?.applied_version === version && state.error === '') return undefined;
  // A terminal failure at this version stays settled until the resource or the entitlements change.
  if (state?.terminal && state.error_version === version) return undefined;
  if (!allowed) {
    const missing: Settled = {
      write: { applied_version: null, error: ENTITLEMENT_ERROR, terminal: true, error_version: version },
    };
    if (!state || !mayHold(state)) return { ctx, resource, settle: () => missing };
    return {
      ctx,
      resource,
      action: 'remove',
      settle: (r) => (r && !r.ok && !r.terminal ? retryable({ ...keep(state), error: r.error }) : missing),
    };
  }
  const applied = state?.applied_version ?? null;
  return {
    ctx,
    resource,
    action: 'apply',
    settle: (r) => {
      if (!r || r.ok)
        return { write: { applied_version: version, error: '', terminal: false, error_version: null } };
      if (r.terminal)
        return {
          write: { applied_version: applied, error: r.error, terminal: true, error_version: version },
        };
      return retryable({ applied_version: applied, error: r.error, terminal: false, error_version: null });
    },
  };
}

/** Removes one resource from the recipient account. */
function planRemove(ctx: RecipientContext, resource: ResourceRow): Step | undefined {
  const state = ctx.delivered.get(resource.id);
  if (!state) return undefined;
  // Nothing applied and no apply in doubt: forget the row.
  if (!mayHold(state)) return { ctx, resource, settle: () => ({ write: null }) };
  return {
    ctx,
    resource,
    action: 'remove',
    settle: (r) => {
      if (!r || r.ok) return { write: null };
      // The receiver refuses the removal for good: stop holding the delivery open, keep the reason visible.
      if (r.terminal)
        return {
          write: {
            applied_version: null,
            error: `Removal refused: ${r.error}`,
            terminal: true,
            error_version: null, // a refused removal must not block applying again if the recipient is re-added
          },
        };
      return retryable({ ...keep(state), error: r.error });
    },
  };
}

function entitled(account: AccountRow, entitlement: string): boolean {
  return account.entitlements === null || (account.entitlements as string[]).includes(entitlement);
}

function retryable(state: State): Settled {
  return { write: state, retry: state.error };
}

function keep(state: DeliveryState): State {
  return {
    applied_version: state.applied_version,
    error: state.error,
    terminal: false,
    error_version: null,
  };
}

/**
 * Whether the account may hold the resource: a version was applied, or an apply is in doubt (a timeout,
 * a 5xx, or a process killed mid-delivery), after which the receiver may hold it anyway.
 */
function mayHold(state: State | undefined): boolean {
  if (!state) return false;
  return state.applied_version !== null || (!state.terminal && state.error !== '');
}
