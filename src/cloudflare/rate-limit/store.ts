/**
 * Request counters per caller and fixed window, shared by every node on the database. Transient: never in
 * a state snapshot or a store copy, emptied by a reset.
 */
export interface RateLimitStore {
  /**
   * Counts one request of `key` in the window starting at `windowStart` (epoch ms) and ending at `resetAt`,
   * atomically, and returns the window's count including this request.
   */
  hit(key: string, windowStart: number, resetAt: number): Promise<number>;
  /** Removes at most `limit` windows that ended at or before `now` (epoch ms); returns how many. */
  prune(now: number, limit: number): Promise<number>;
}
