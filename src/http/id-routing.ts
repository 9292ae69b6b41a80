import { requestPath } from './paths.js';
import { isPreempted } from './preempted.js';
import { isId } from '../lib/ids.js';
import { InvalidIdRouteError } from './errors.js';
import type { App } from './types.js';

/** Path parameters that name an object by id: Cloudflare's router matches only 32 hex digits there. */
const ID_PARAMS = [
  'account_id',
  'organization_id',
  'share_id',
  'recipient_id',
  'share_resource_id',
  'excluded_recipient_id',
] as const;

/**
 * Refuses an API route whose id segment is not an id (400 7003 + 7000), before rate limiting and
 * authentication, as Cloudflare's router answers before anything behind it: an unauthenticated caller
 * with a bad id gets this answer, and no store is asked. Must be registered before the authentication hooks.
 */
export function idRoutingHook(app: App, apiRoot: string): void {
  app.addHook('onRequest', async (req) => {
    if (!req.routeOptions.url?.startsWith(`${apiRoot}/`) || isPreempted(req)) return;
    const params = req.params as Record<string, string | undefined>;
    for (const name of ID_PARAMS) {
      const value = params[name];
      if (value !== undefined && !isId(value)) throw new InvalidIdRouteError(requestPath(req.originalUrl));
    }
  });
}
