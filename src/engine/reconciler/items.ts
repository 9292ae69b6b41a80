import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isStoreUnavailable } from '../../lib/outage.js';
import { finalizeEntries, ownerLeftEntries } from './audit.js';
import { recordTransition, type Pass, type WorkContext } from './context.js';
import { deliverAll, madeOutsideStore, type Delivered } from './deliver.js';
import { deriveShareRecipients } from './derive.js';
import { inDoubt, planRecipient } from './plan.js';
import { failRecipients, settleItem, settleRecipients, type RecipientPlan } from './settle.js';
import type { RecipientContext, WorkItem } from './store.js';

/** New recipients an organization-targeted share gets per transaction. */
const DERIVE_CHUNK = 2000;

/**
 * Converges a group of recipient items: reads their contexts at once, plans every delivery they need,
 * hands them to the drivers (in-process drivers take the whole group in one call), and settles the
 * resulting delivery states, status moves and item completions in one store transaction.
 */
export async function processRecipients(context: WorkContext, items: WorkItem[], pass: Pass): Promise<void> {
  const { store, clock, types } = context;
  let contexts: Map<string, RecipientContext>;
  try {
    contexts = await store.reconciler.recipientContexts(items.map((i) => i.id));
  } catch (err) {
    await failRecipients(context, items, err, pass);
    return;
  }
  const plans: RecipientPlan[] = items.map((item) => {
    const ctx = contexts.get(item.id);
    return { item, ctx, steps: ctx ? planRecipient(ctx, types) : [] };
  });
  const steps = plans.flatMap((p) => p.steps);
  let delivered: Delivered;
  try {
    // Written before delivering, so a kill between delivery and settle cannot leave a delivery unrecorded.
    // Deliveries into the store need none: they commit with the settle, or not at all.
    await store.reconciler.recordInDoubt(inDoubt(madeOutsideStore(context, steps)), clock.timestamp());
    delivered = await deliverAll(context, steps);
  } catch (err) {
    await failRecipients(context, items, err, pass);
    return;
  }
  const outcomeOf = new Map(steps.map((step, i) => [step, delivered.outcomes[i]]));
  await settleRecipients(context, pass, plans, outcomeOf, delivered.inventory);
}

/** A 'share' or 'organization' item. */
export async function processItem(context: WorkContext, item: WorkItem, pass: Pass): Promise<void> {
  let retry: string | undefined;
  try {
    if (item.kind === 'share') await convergeShare(context, item.id, pass);
    else await syncOrganization(context, item.id);
  } catch (err) {
    // The store is gone: recording a retry would fail too. The pass ends; the lease lets go of the item.
    if (isStoreUnavailable(err)) throw err;
    context.log.error({ err, kind: item.kind, id: item.id }, 'reconcile item failed');
    context.metrics.items.inc({ kind: item.kind, outcome: 'error' });
    retry = err instanceof Error ? err.message : String(err);
  }
  await settleItem(context, pass, item, retry);
}

/**
 * A 'share' item: an active organization-targeted share first gets a recipient for every member that
 * has none (the fan-out of a new share happens here, not in the API request), a chunk per transaction;
 * then `deleting` resources and a `deleting` share are finalised once nothing of theirs is pending.
 */
async function convergeShare(context: WorkContext, shareId: string, pass: Pass): Promise<void> {
  let changed = 0;
  for (;;) {
    const step = await derive(context, shareId, context.clock.timestamp(), DERIVE_CHUNK);
    changed += step.changed;
    if (!step.more) break;
    await yieldToEventLoop();
  }
  if (changed > 0) context.log.info({ share: shareId, changed }, 'share recipients derived');
  await finalizeShare(context, shareId, pass);
}

async function finalizeShare(context: WorkContext, shareId: string, pass: Pass): Promise<void> {
  const { store, clock } = context;
  const share = await store.shares.get(shareId);
  const time = clock.timestamp();
  const done = await store.reconciler.finalizeShare(shareId, time, (finalized) =>
    share ? finalizeEntries(share, finalized, time) : [],
  );
  for (const id of done.deletedResources) {
    recordTransition(context, pass.report, { entity: 'resource', id, from: 'deleting', to: 'deleted' });
  }
  if (done.shareDeleted && share)
    recordTransition(context, pass.report, {
      entity: 'share',
      id: shareId,
      from: share.status,
      to: 'deleted',
    });
}

/**
 * An 'organization' item: follows the accounts that left (their account-targeted recipients and the shares
 * they owned), then re-derives every active organization-targeted share from the current members.
 */
async function syncOrganization(context: WorkContext, organizationId: string): Promise<void> {
  const { store, clock } = context;
  const time = clock.timestamp();
  let changed = await store.reconciler.followDepartures(organizationId, time, (abandoned) =>
    ownerLeftEntries(abandoned, time),
  );
  for (const shareId of await store.reconciler.organizationShares(organizationId))
    changed += (await derive(context, shareId, time, Infinity)).changed;
  if (changed > 0)
    context.log.info({ organization: organizationId, changed }, 'organization recipients re-derived');
}

function derive(context: WorkContext, shareId: string, modified: string, limit: number) {
  return deriveShareRecipients(context.store.reconciler, shareId, modified, () => context.ids.next(), limit);
}
