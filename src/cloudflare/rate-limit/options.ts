/**
 * `--rate-limit off|cloudflare|<requests>/<seconds>s` (env `RSHARE_RATE_LIMIT`). Parsed here, without the
 * HTTP stack, so the CLI can check the value before loading the server.
 */
export interface RateLimitPolicy {
  /** Requests allowed per caller in one window (`q` of `Ratelimit-Policy`). */
  quota: number;
  /** Window length in seconds (`w`); windows are fixed and aligned to the clock. */
  windowSeconds: number;
}

/** Cloudflare's global API limit: 1,200 requests per 5 minutes per user or token. */
export const CLOUDFLARE_POLICY: RateLimitPolicy = { quota: 1200, windowSeconds: 300 };

export const MAX_QUOTA = 1_000_000_000;
/** A day: longer windows would only keep counters around longer. */
export const MAX_WINDOW_SECONDS = 86_400;

const SHAPE = /^([1-9]\d*)\/([1-9]\d*)s$/;

export class RateLimitOptionError extends Error {}

/**
 * The policy a `--rate-limit` value names, or undefined for `off`. Throws RateLimitOptionError with a
 * sentence a person can act on.
 */
export function parseRateLimit(value: string): RateLimitPolicy | undefined {
  const text = value.trim().toLowerCase();
  if (text === 'off') return undefined;
  if (text === 'cloudflare') return { ...CLOUDFLARE_POLICY };
  const m = SHAPE.exec(text);
  if (!m) {
    throw new RateLimitOptionError(
      `expected off, cloudflare or <requests>/<seconds>s (like 100/60s), got "${value}"`,
    );
  }
  const quota = Number(m[1]);
  const windowSeconds = Number(m[2]);
  if (quota > MAX_QUOTA)
    throw new RateLimitOptionError(`requests per window must be at most ${MAX_QUOTA}, got ${m[1]}`);
  if (windowSeconds > MAX_WINDOW_SECONDS)
    throw new RateLimitOptionError(`the window must be at most ${MAX_WINDOW_SECONDS} seconds, got ${m[2]}`);
  return { quota, windowSeconds };
}

/** The policy as `--rate-limit` spells it: `1200/300s`. */
export function formatRateLimit(policy: RateLimitPolicy): string {
  return `${policy.quota}/${policy.windowSeconds}s`;
}
