import type { ServerOptions } from 'node:http';

/** How long the server waits for a client, in milliseconds; 0 turns a timeout off. */
export interface ServerTimeouts {
  /** From a request's first byte until its headers are in (slow-loris clients are cut off here). */
  headersMs: number;
  /** From a request's first byte until its body is in (handler time is not counted). */
  requestMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveMs: number;
}

/**
 * Headers are a few hundred bytes: 10 s is ample on any link, and bounds how long a trickling client holds
 * a connection. 30 s takes a 1 MiB body at ~35 KB/s. 5 s of keep-alive is Node's own default, which
 * clients learn from the `Keep-Alive: timeout=5` header (undici reuses connections for 4 s).
 */
export const DEFAULT_TIMEOUTS: ServerTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };

/** Cloudflare's limits: URLs up to 16 KB, request headers up to 32 KB. */
export const DEFAULT_URL_LIMIT = 16 * 1024;
export const DEFAULT_HEADER_LIMIT = 32 * 1024;

export interface HttpLimitOptions {
  /** Longest accepted URL in bytes; longer is a 414. */
  urlLimit?: number;
  /** Largest request line plus headers in bytes; larger is a 431. */
  headerLimit?: number;
  timeouts?: Partial<ServerTimeouts>;
}

export interface HttpLimits {
  urlLimit: number;
  headerLimit: number;
  timeouts: ServerTimeouts;
}

function check(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer of at least ${min} (got ${value})`);
  return value;
}

/** The limits with their defaults, checked (Node checks headers <= request only at construction). */
export function resolveLimits(options: HttpLimitOptions): HttpLimits {
  const t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const timeouts = {
    headersMs: check('headers timeout', t.headersMs, 0),
    requestMs: check('request timeout', t.requestMs, 0),
    keepAliveMs: check('keep-alive timeout', t.keepAliveMs, 0),
  };
  if (timeouts.requestMs > 0 && timeouts.headersMs > timeouts.requestMs)
    throw new RangeError(
      `headers timeout (${timeouts.headersMs} ms) must not be longer than the request timeout (${timeouts.requestMs} ms)`,
    );
  return {
    urlLimit: check('URL limit', options.urlLimit ?? DEFAULT_URL_LIMIT, 1),
    headerLimit: check('header limit', options.headerLimit ?? DEFAULT_HEADER_LIMIT, 1),
    timeouts,
  };
}

/**
 * Node checks its timeouts on an interval (30 s by default, so a 10 s timeout could fire at 40 s): once
 * a second, or four times per timeout when the shortest is under 4 s (tests).
 */
export function checkingInterval(timeouts: ServerTimeouts): number {
  const on = [timeouts.headersMs, timeouts.requestMs].filter((ms) => ms > 0);
  if (on.length === 0) return 30_000;
  return Math.max(10, Math.min(1000, Math.floor(Math.min(...on) / 4)));
}

/** Options for `http.createServer`: the ones Node reads only there. */
export function serverOptions(limits: HttpLimits): ServerOptions {
  return {
    maxHeaderSize: limits.headerLimit,
    connectionsCheckingInterval: checkingInterval(limits.timeouts),
    // Node answers a missing Host with a bare 400; the request checks answer it in the envelope.
    requireHostHeader: false,
  };
}
