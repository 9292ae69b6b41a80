import type { FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimitedError, ServerFaultError, type ApiError } from '../../http/errors.js';
import { apiPath, isPublicRequest, requestPath } from '../../http/paths.js';
import { preempt } from '../../http/preempted.js';
import type { App } from '../../http/types.js';
import { findTooDeep, MAX_BODY_DEPTH } from '../../http/validation.js';
import { DEFAULT_RETRY_AFTER_S, type HttpFaultRule } from './schemas.js';
import type { FaultRegistry } from './service.js';

/** Requests a rule answers with a status, between the decision (onRequest) and the answer (preParsing). */
const faulted = new WeakMap<FastifyRequest, HttpFaultRule>();

function faultError(rule: HttpFaultRule): ApiError {
  if (rule.status === 429) return new RateLimitedError(rule.retry_after_s ?? DEFAULT_RETRY_AFTER_S);
  return new ServerFaultError(rule.status as 500 | 502 | 503 | 504);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as JSON if it passes the limits every body passes (size, UTF-8, nesting), else null; read to
 * the end (so the answer is not a reset connection).
 */
async function readJson(payload: AsyncIterable<Buffer | string>, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size <= limit) chunks.push(bytes);
  }
  if (size === 0 || size > limit) return null;
  try {
    const body = JSON.parse(utf8.decode(Buffer.concat(chunks))) as unknown;
    return findTooDeep(body, MAX_BODY_DEPTH) === undefined ? body : null;
  } catch {
    return null;
  }
}

/**
 * HTTP fault injection on the public API (never /_rshare, health, readiness or metrics). The rule is
 * picked at onRequest, before authentication, as Cloudflare's edge rate limiter answers before the origin;
 * `latency_ms` is slept there (real time). A rule with a status answers at preParsing, after reading the
 * body itself (kept as `req.body` for the journal): whatever the body is (malformed, too large, another
 * content type), the answer is the fault, and no authentication, handler or store access runs. Only what
 * the server limits refuse first (a URL over the limit, a declared Content-Length over it) is not faulted.
 * The product's hooks skip the request through `isPreempted(req)`.
 */
export function faultHooks(app: App, faults: FaultRegistry, bodyLimit: number): void {
  app.addHook('onRequest', async (req) => {
    if (faults.size === 0 || !isPublicRequest(req)) return;
    const rule = faults.matchHttp(req.method, apiPath(requestPath(req.originalUrl)));
    if (!rule) return;
    if (rule.latency_ms) await sleep(rule.latency_ms);
    if (rule.status === undefined) return;
    faulted.set(req, rule);
    preempt(req);
  });
  app.addHook('preParsing', async (req, _reply, payload) => {
    const rule = faulted.get(req);
    if (!rule) return payload;
    req.body = await readJson(payload, bodyLimit);
    throw faultError(rule);
  });
}
