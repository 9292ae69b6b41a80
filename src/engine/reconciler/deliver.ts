import type { InventoryChanges } from '../../cloudflare/inventory/store.js';
import type { WorkContext } from './context.js';
import type { Delivery, DeliveryDriver, DeliveryOutcome } from './drivers/types.js';
import type { Step } from './plan.js';
import { groupBy } from '../../lib/group-by.js';

/** What the deliveries of a group did: outcomes in step order, and the inventory writes still to commit. */
export interface Delivered {
  /** Undefined for steps with no delivery. */
  outcomes: (DeliveryOutcome | undefined)[];
  /** Staged by in-store drivers, for the settling transaction to write. */
  inventory: InventoryChanges;
}

/** The steps whose delivery leaves the store (drivers without `stage`): only these can be in doubt. */
export function madeOutsideStore(context: WorkContext, steps: Step[]): Step[] {
  return steps.filter((s) => s.action && !context.drivers.for(s.resource.resource_type).stage);
}

/**
 * Runs the deliveries of the steps: staged for the settle where the driver delivers into the store,
 * batched per driver where it takes batches, otherwise one call each, `concurrency` at a time.
 */
export async function deliverAll(context: WorkContext, steps: Step[]): Promise<Delivered> {
  const { drivers, concurrency } = context;
  const outcomes: (DeliveryOutcome | undefined)[] = steps.map(() => undefined);
  const inventory: InventoryChanges = { put: [], remove: [] };
  const byDriver = groupBy(
    steps.flatMap((step, i) => (step.action ? [i] : [])),
    (i) => drivers.for((steps[i] as Step).resource.resource_type),
  );
  const note = (driver: DeliveryDriver, i: number, result: DeliveryOutcome) => {
    outcomes[i] = result;
    noteOutcome(context, driver, steps[i] as Step, result);
  };
  const single: number[] = [];
  for (const [driver, indexes] of byDriver) {
    const batch = () => indexes.map((i) => delivery(steps[i] as Step));
    if (driver.stage) {
      const result = driver.stage(batch());
      indexes.forEach((i, k) => note(driver, i, result.outcomes[k] as DeliveryOutcome));
      inventory.put.push(...result.inventory.put);
      inventory.remove.push(...result.inventory.remove);
    } else if (driver.deliverMany) {
      const results = await driver.deliverMany(batch());
      indexes.forEach((i, k) => note(driver, i, results[k] as DeliveryOutcome));
    } else single.push(...indexes);
  }
  // Drivers that take one delivery per call: `concurrency` calls at once, in step order.
  single.sort((a, b) => a - b);
  let next = 0;
  const lane = async () => {
    while (next < single.length) {
      const i = single[next++] as number;
      const step = steps[i] as Step;
      const driver = drivers.for(step.resource.resource_type);
      note(driver, i, await driver.deliver(delivery(step)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, single.length) }, lane));
  return { outcomes, inventory };
}

function delivery(step: Step): Delivery {
  return {
    action: step.action as Delivery['action'],
    share_id: step.ctx.share.id,
    recipient_id: step.ctx.recipient.id,
    recipient_account_id: step.ctx.recipient.account_id,
    association: step.ctx.recipient.modified,
    resource: step.resource,
  };
}

/** Counts the outcome by driver, and logs a failed one. */
function noteOutcome(
  context: WorkContext,
  driver: DeliveryDriver,
  step: Step,
  result: DeliveryOutcome,
): void {
  const outcome = result.ok ? 'ok' : result.terminal ? 'terminal' : 'retryable';
  context.metrics.deliveries.inc({ driver: driver.name, action: step.action, outcome });
  if (!result.ok) {
    context.log.warn(
      {
        recipient: step.ctx.recipient.id,
        resource: step.resource.id,
        action: step.action,
        error: result.error,
        outcome,
      },
      'delivery failed',
    );
  }
}
