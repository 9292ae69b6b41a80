import type { AuditEntry } from '../../platform/audit/entry.js';
import type { InventoryChanges } from '../../cloudflare/inventory/store.js';
import { isStoreUnavailable } from '../../lib/outage.js';
import { deliveryEntries, moveEntries } from './audit.js';
import { recordTransition, type Pass, type WorkContext } from './context.js';
import type { DeliveryOutcome } from './drivers/types.js';
import type { Step } from './plan.js';
import type { RecipientContext, RecipientResult, WorkItem } from './store.js';
import { assertTransition, recipientStatus } from './transitions.js';

/** One claimed recipient item and its steps (none when the recipient no longer exists). */
export interface RecipientPlan {
  item: WorkItem;
  ctx?: RecipientContext;
  steps: Step[];
}

/**
 * Settles a group of recipient items once their deliveries are made: the staged inventory writes, the
 * delivery states, status moves and item completions in one store transaction, together with the share
 * items of shares that may now be finalised; then the pass's report and metrics.
 */
export async function settleRecipients(
  context: WorkContext,
  pass: Pass,
  plans: RecipientPlan[],
  outcomeOf: Map<Step, DeliveryOutcome | undefined>,
  inventory: InventoryChanges,
): Promise<void> {
  const { report } = pass;
  const { results, finalize } = outcomes(context, plans, outcomeOf);
  let moved: Set<string>;
  try {
    moved = await context.store.reconciler.settleRecipients(
      pass.owner,
      results,
      context.clock.timestamp(),
      finalize,
      inventory,
    );
  } catch (err) {
    await failRecipients(
      context,
      plans.map((p) => p.item),
      err,
      pass,
    );
    return;
  }
  for (const r of results) {
    report.processed++;
    if (r.retry) {
      report.retried++;
      context.metrics.items.inc({ kind: 'recipient', outcome: 'retry' });
      pass.onRetry?.(r.item);
    } else context.metrics.items.inc({ kind: 'recipient', outcome: 'done' });
    if (r.recipient && r.status && moved.has(r.recipient.id)) {
      recordTransition(context, report, {
        entity: 'recipient',
        id: r.recipient.id,
        from: r.recipient.status,
        to: r.status,
      });
    }
  }
}

/** What the delivery outcomes leave behind for each recipient, and the shares to look at for finalising. */
function outcomes(
  context: WorkContext,
  plans: RecipientPlan[],
  outcomeOf: Map<Step, DeliveryOutcome | undefined>,
): { results: RecipientResult[]; finalize: string[] } {
  const { clock } = context;
  const results: RecipientResult[] = [];
  const finalize = new Set<string>();
  for (const { item, ctx, steps } of plans) {
    if (!ctx) {
      results.push({ item, writes: [] });
      continue;
    }
    const audit: AuditEntry[] = [];
    const result: RecipientResult = { item, recipient: ctx.recipient, writes: [], audit };
    const time = clock.timestamp();
    let retry: string | undefined;
    for (const step of steps) {
      const settled = step.settle(outcomeOf.get(step));
      if (settled.write !== undefined) {
        result.writes.push({ shareResourceId: step.resource.id, state: settled.write });
        audit.push(...deliveryEntries(ctx, step.resource, settled.write, time));
      }
      retry ??= settled.retry;
    }
    const to = recipientStatus(ctx.recipient.desired_status, retry === undefined);
    if (to !== ctx.recipient.status) {
      assertTransition('recipient', ctx.recipient.status, to);
      result.status = to;
      // Only the settled statuses: the moves back toward work are the API's, recorded with the request.
      if (to === 'associated' || to === 'disassociated') result.moveAudit = moveEntries(ctx, to, time);
    }
    if (retry !== undefined)
      result.retry = { dueAt: clock.now() + context.backoff(item.attempts), error: retry };
    results.push(result);
    if (ctx.share.status === 'deleting' || ctx.resources.some((r) => r.status !== 'active'))
      finalize.add(ctx.share.id);
  }
  return { results, finalize: [...finalize] };
}

/** Every item of a group whose reads or writes failed goes back to the queue after a backoff. */
export async function failRecipients(
  context: WorkContext,
  items: WorkItem[],
  err: unknown,
  pass: Pass,
): Promise<void> {
  const { store, clock, metrics } = context;
  const { report } = pass;
  if (isStoreUnavailable(err)) throw err;
  context.log.error({ err, kind: 'recipient', items: items.length }, 'reconcile item failed');
  const error = err instanceof Error ? err.message : String(err);
  for (const item of items) {
    metrics.items.inc({ kind: 'recipient', outcome: 'error' });
    metrics.items.inc({ kind: 'recipient', outcome: 'retry' });
    report.processed++;
    report.retried++;
    await store.reconciler.retry(pass.owner, item, clock.now() + context.backoff(item.attempts), error);
    pass.onRetry?.(item);
  }
}

/** A 'share' or 'organization' item is done: retired, or with `retry`, released to run again later. */
export async function settleItem(
  context: WorkContext,
  pass: Pass,
  item: WorkItem,
  retry?: string,
): Promise<void> {
  const { store, clock, metrics } = context;
  const { report } = pass;
  report.processed++;
  if (retry !== undefined) {
    report.retried++;
    metrics.items.inc({ kind: item.kind, outcome: 'retry' });
    await store.reconciler.retry(pass.owner, item, clock.now() + context.backoff(item.attempts), retry);
    pass.onRetry?.(item);
    return;
  }
  metrics.items.inc({ kind: item.kind, outcome: 'done' });
  await store.reconciler.complete(pass.owner, item);
}
