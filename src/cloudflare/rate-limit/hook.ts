import { isPublicRequest } from '../../http/paths.js';
import { isPreempted } from '../../http/preempted.js';
import type { Authenticator } from '../../platform/tenancy/auth.js';
import { RateLimitedError } from '../../http/errors.js';
import type { App } from '../../http/types.js';
import type { RateLimiter } from './service.js';

/**
 * The rate limit on the public API (never /_rshare, health, readiness or metrics), registered only when a
 * policy is set. It authenticates the caller itself, because the count is per principal (`token:<id>`,
 * `user:<id>`); the app's authentication hook then finds `req.principal` set and only authorizes. Requests
 * that do not authenticate (no or bad credentials, unknown routes) count against the client address
 * (`ip:<address>`), so guessing credentials is limited too: over the limit they get the 429, not the
 * authentication error. Faulted requests were answered "at the edge", before the limiter: never counted.
 * Must be registered after the fault hook and before the app's authentication hook.
 */
export function rateLimitHooks(app: App, limiter: RateLimiter, authenticator: Authenticator): void {
  app.addHook('onRequest', async (req, reply) => {
    if (isPreempted(req) || !isPublicRequest(req)) return;
    // This hook may answer before the app's hook that sets it.
    reply.header('x-request-id', req.id);
    const access = req.routeOptions.config.access;
    let key = `ip:${req.ip}`;
    let refused: unknown;
    if (access) {
      try {
        const params = req.params as Record<string, string | undefined>;
        req.principal = await authenticator.authenticate(req, access, params);
        key = `${req.principal.kind}:${req.principal.id}`;
      } catch (err) {
        refused = err;
      }
    }
    const decision = await limiter.hit(key);
    reply.headers(decision.headers);
    if (!decision.allowed) throw new RateLimitedError(decision.resetSeconds);
    if (refused !== undefined) throw refused;
  });
}
