import type { FastifyRequest } from 'fastify';
import { isPublicRequest, requestPath } from '../faults/paths.js';
import type { Principal } from '../http/auth.js';
import type { App } from '../http/types.js';
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

/**
 * Journals every public API request (unknown routes included; never /_rshare, health, readiness or
 * metrics) once answered. The body is kept as it arrived, before validation strips or defaults anything;
 * a request refused before its body is read (authentication) is journaled with body null. No headers are
 * kept, so no credential reaches the journal.
 */
export function journalHooks(app: App, journal: Journal): void {
  const bodies = new WeakMap<FastifyRequest, unknown>();
  app.addHook('preValidation', async (req) => {
    if (req.body !== undefined && req.body !== null && isPublicRequest(req))
      bodies.set(req, structuredClone(req.body));
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!isPublicRequest(req)) return;
    // A faulted request's body was read by the fault hook and never validated: it is as sent.
    const body = bodies.has(req) ? bodies.get(req) : req.body;
    journal.record({
      method: req.method,
      path: requestPath(req.originalUrl),
      query: queryOf(req.originalUrl),
      operation_id: operationOf(req),
      status: reply.statusCode,
      request_id: req.id,
      caller: callerOf(req),
      body: body ?? null,
    });
  });
}
