import type { ResourceType } from '../../http/common-schemas.js';
import type {
  Delivery,
  DeliveryDriver,
  DeliveryOutcome,
  DriverRegistry,
} from '../../engine/reconciler/drivers/types.js';
import { DEFAULT_DELIVERY_ERROR, type DeliveryFaultRule } from './schemas.js';
import type { FaultRegistry } from './service.js';

function failure(rule: DeliveryFaultRule): DeliveryOutcome {
  return { ok: false, terminal: rule.terminal, error: rule.message || DEFAULT_DELIVERY_ERROR };
}

/** Splits a batch: the failures of the deliveries a rule claims (undefined for the rest), and the rest. */
function byRule(faults: FaultRegistry, deliveries: Delivery[]) {
  const outcomes = deliveries.map((d) => {
    const rule = faults.matchDelivery(d);
    return rule ? failure(rule) : undefined;
  });
  const pass = deliveries.filter((_, i) => outcomes[i] === undefined);
  /** The batch's outcomes in order, given those of `pass`. */
  const merge = (delivered: DeliveryOutcome[]): DeliveryOutcome[] => {
    let k = 0;
    return outcomes.map((o) => o ?? (delivered[k++] as DeliveryOutcome));
  };
  return { pass, merge };
}

/** A driver whose deliveries matching a delivery fault rule fail without reaching the real driver. */
function faultyDriver(real: DeliveryDriver, faults: FaultRegistry): DeliveryDriver {
  const driver: DeliveryDriver = {
    // The real name, so delivery metrics stay labelled by where deliveries go.
    name: real.name,
    async deliver(delivery: Delivery): Promise<DeliveryOutcome> {
      const rule = faults.matchDelivery(delivery);
      return rule ? failure(rule) : real.deliver(delivery);
    },
  };
  const many = real.deliverMany?.bind(real);
  if (many) {
    // Still one real call for the batch: the deliveries no rule claims, outcomes merged back in order.
    driver.deliverMany = async (deliveries) => {
      if (faults.size === 0) return many(deliveries);
      const { pass, merge } = byRule(faults, deliveries);
      return merge(pass.length > 0 ? await many(pass) : []);
    };
  }
  const stage = real.stage?.bind(real);
  if (stage) {
    // Staged the same way: only the deliveries no rule claims reach the store's writes.
    driver.stage = (deliveries) => {
      if (faults.size === 0) return stage(deliveries);
      const { pass, merge } = byRule(faults, deliveries);
      const staged = stage(pass);
      return { outcomes: merge(staged.outcomes), inventory: staged.inventory };
    };
  }
  return driver;
}

/**
 * Wraps a driver registry so delivery fault rules (by recipient account and resource type) can make
 * deliveries fail, retryable or terminal; everything else reaches the real drivers. Each real driver gets
 * one wrapper, so deliveries the reconciler batches per driver stay batched, and `inProcess` is kept.
 */
export function withDeliveryFaults(registry: DriverRegistry, faults: FaultRegistry): DriverRegistry {
  const wrapped = new Map<DeliveryDriver, DeliveryDriver>();
  const wrap = (real: DeliveryDriver) => {
    let driver = wrapped.get(real);
    if (!driver) wrapped.set(real, (driver = faultyDriver(real, faults)));
    return driver;
  };
  return {
    for: (type: ResourceType) => wrap(registry.for(type)),
    ...(registry.inProcess === undefined ? {} : { inProcess: registry.inProcess }),
  };
}
