import type { FastifyRequest } from 'fastify';
import { isPublicRequest, requestPath } from '../../http/paths.js';
import { isPreempted } from '../../http/preempted.js';
import type { Principal } from '../../platform/tenancy/auth.js';
import type { App } from '../../http/types.js';
import type { Caller } from './schemas.js';
import type { Journal } from './service.js';

/** The query string as sent (validation coerces `req.query` in place, so it is read from the URL). */
function queryOf(url: string): Record<string, string | string[]> {
  const q = url.indexOf('?');
  const query = new Map<string, string | string[]>();
  if (q === -1) return {};
  for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
    const seen = query.get(key);
    query.set(key, seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]);
  }
  return Object.fromEntries(query);
}

/** The route's operation id (the contract's, e.g. `shares-get-by-id`); null for an unknown route. */
function operationOf(req: FastifyRequest): string | null {
  const schema = req.routeOptions.schema as { operationId?: unknown } | undefined;
  return typeof schema?.operationId === 'string' ? schema.operationId : null;
}

/** Who called: the authenticated token or user (by email, never a credential); null if unauthenticated. */
function callerOf(req: FastifyRequest): Caller {
  const principal = req.principal as Principal | null;
  if (!principal) return null;
  if (principal.kind === 'token') return { type: 'token', id: principal.id };
  const email = req.headers['x-auth-email'];
  return { type: 'user', email: (Array.isArray(email) ? email[0] : email)?.trim().toLowerCase() ?? '' };
}

/** The JSON text of the body to journal: kept at preValidation, or a faulted request's (read by the fault hook). */
function bodyOf(req: FastifyRequest, kept: WeakMap<FastifyRequest, string>): string | null {
  const body = kept.get(req);
  if (body !== undefined) return body;
  return isPreempted(req) && req.body !== undefined && req.body !== null ? JSON.stringify(req.body) : null;
}

/**
 * Journals every public API request (unknown routes included; never /_rshare, health, readiness or
 * metrics) once answered. The body is kept as it arrived, before validation strips or defaults anything,
 * but only once it has passed the parsing limits every body passes (size, UTF-8, nesting): register this
 * after the nesting check. A request refused before its body is read (authentication) or by a parsing
 * limit is journaled with body null. No headers are kept, so no credential reaches the journal.
 * Journaling never fails a request: a failure to record is logged and the entry skipped.
 */
export function journalHooks(app: App, journal: Journal): void {
  const kept = new WeakMap<FastifyRequest, string>();
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined || req.body === null || !isPublicRequest(req)) return;
    try {
      kept.set(req, JSON.stringify(req.body));
    } catch (err) {
      req.log.warn({ err }, 'request body not journaled');
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!isPublicRequest(req)) return;
    try {
      const recorded = journal.record({
        method: req.method,
        path: requestPath(req.originalUrl),
        query: queryOf(req.originalUrl),
        operation_id: operationOf(req),
        status: reply.statusCode,
        request_id: req.id,
        caller: callerOf(req),
        body: bodyOf(req, kept),
      });
      if (!recorded) req.log.warn('request not journaled: larger than the whole journal');
    } catch (err) {
      req.log.warn({ err }, 'request not journaled');
    }
  });
}
