import type { WorkContext } from './context.js';
import type { Delivery, DeliveryDriver, DeliveryOutcome } from './drivers/types.js';
import type { Step } from './plan.js';

/**
 * Runs the deliveries of the steps: batched per driver where the driver takes batches, otherwise one
 * call each, `concurrency` at a time. Outcomes in step order (undefined for steps with no delivery).
 */
export async function deliverAll(
  context: WorkContext,
  steps: Step[],
): Promise<(DeliveryOutcome | undefined)[]> {
  const { drivers, concurrency } = context;
  const outcomes: (DeliveryOutcome | undefined)[] = steps.map(() => undefined);
  const batches = new Map<DeliveryDriver, number[]>();
  const single: number[] = [];
  steps.forEach((step, i) => {
    if (!step.action) return;
    const driver = drivers.for(step.resource.resource_type);
    if (driver.deliverMany) {
      let list = batches.get(driver);
      if (!list) batches.set(driver, (list = []));
      list.push(i);
    } else single.push(i);
  });
  const note = (driver: DeliveryDriver, i: number, result: DeliveryOutcome) => {
    outcomes[i] = result;
    noteOutcome(context, driver, steps[i] as Step, result);
  };
  for (const [driver, indexes] of batches) {
    const results = await (driver.deliverMany as NonNullable<DeliveryDriver['deliverMany']>)(
      indexes.map((i) => delivery(steps[i] as Step)),
    );
    indexes.forEach((i, k) => note(driver, i, results[k] as DeliveryOutcome));
  }
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
  return outcomes;
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
