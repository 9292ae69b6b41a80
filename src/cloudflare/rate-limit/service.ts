import type { Clock } from '../../lib/clock.js';
import type { RateLimitPolicy } from './options.js';
import type { RateLimitStore } from './store.js';

/** What the limiter answered for one request. */
export interface RateLimitDecision {
  allowed: boolean;
  /** Requests left in the window after this one (`r`), never below 0. */
  remaining: number;
  /** Whole seconds until the window resets (`t`), rounded up, at least 1; also the 429's `Retry-After`. */
  resetSeconds: number;
  /** `Ratelimit` and `Ratelimit-Policy`, as Cloudflare sends them. */
  headers: Record<string, string>;
}

/** Rows removed per prune statement: short enough never to hold up the hits waiting behind it. */
export const PRUNE_BATCH = 1000;

/**
 * Cloudflare's rule: a quota of requests per caller and fixed window. Windows are aligned to the (injected)
 * clock, so every node computes the same window for the same instant and they share one counter row.
 */
export class RateLimiter {
  private readonly windowMs: number;
  private readonly policyHeader: string;
  /** The newest window this node has pruned behind: each node prunes once per window it sees. */
  private prunedWindow = -Infinity;
  private pruning: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RateLimitStore,
    readonly policy: RateLimitPolicy,
    private readonly clock: Clock,
    /** Hears failed prunes (they never fail a request). */
    private readonly onPruneError: (err: unknown) => void = () => {},
  ) {
    this.windowMs = policy.windowSeconds * 1000;
    this.policyHeader = `"default";q=${policy.quota};w=${policy.windowSeconds}`;
  }

  /** Counts one request of `key` and decides it. */
  async hit(key: string): Promise<RateLimitDecision> {
    const now = this.clock.now();
    const windowStart = Math.floor(now / this.windowMs) * this.windowMs;
    const resetAt = windowStart + this.windowMs;
    const count = await this.store.hit(key, windowStart, resetAt);
    if (windowStart > this.prunedWindow) {
      this.prunedWindow = windowStart;
      this.pruning = this.pruning.then(() => this.prune(now));
    }
    const remaining = Math.max(0, this.policy.quota - count);
    // resetAt > now, so at least 1.
    const resetSeconds = Math.ceil((resetAt - now) / 1000);
    return {
      allowed: count <= this.policy.quota,
      remaining,
      resetSeconds,
      headers: {
        ratelimit: `"default";r=${remaining};t=${resetSeconds}`,
        'ratelimit-policy': this.policyHeader,
      },
    };
  }

  /** Resolves once the prunes started so far are done (tests, shutdown). */
  settled(): Promise<void> {
    return this.pruning;
  }

  /** Removes every ended window, a batch at a time, off the request path. */
  private async prune(now: number): Promise<void> {
    try {
      while ((await this.store.prune(now, PRUNE_BATCH)) === PRUNE_BATCH);
    } catch (err) {
      this.onPruneError(err);
    }
  }
}
