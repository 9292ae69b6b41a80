import type { Clock } from '../../lib/clock.js';

/**
 * When reconciler work queued by an API change becomes due. Stores ask it at every enqueue; the
 * reconciler only claims items whose due time has come (by the same clock it reads `now` from).
 */
export interface WorkTiming {
  /** Epoch milliseconds; 0 means due at once. */
  dueAt(): number;
}

/** Work is due as soon as it is queued (the default). */
export const dueNow: WorkTiming = { dueAt: () => 0 };

/**
 * Work becomes due `delayMs` after the change that caused it, by `clock`: rehearses Cloudflare's
 * propagation delay. A delay of 0 is `dueNow`.
 */
export function delayedWork(clock: Clock, delayMs: number): WorkTiming {
  if (delayMs <= 0) return dueNow;
  return { dueAt: () => clock.now() + delayMs };
}
