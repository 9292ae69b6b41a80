import type { FastifyRequest } from 'fastify';

/** Cloudflare's API root; rshare serves the same routes at `/` too, and rules see one form of both. */
export const API_ROOT = '/client/v4';

/** Where the emulator's controls live: outside `/client/v4`, so they can never collide with a Cloudflare path. */
export const ADMIN_PREFIX = '/_rshare';

/** Where Swagger UI is served (its page, its static assets under `/docs/static`, and its own copy of the document). */
export const DOCS_PREFIX = '/docs';

/** The document's path under the API root (`/client/v4/openapi.json`). */
export const OPENAPI_PATH = '/openapi.json';

/** The docs page and its assets: not the public API, so never faulted or journaled. */
export function isDocsPath(path: string): boolean {
  return path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`);
}

/** Probes, scrapes and the API's description see the real server: never faulted or journaled. */
const INFRASTRUCTURE = new Set(['/healthz', '/readyz', '/metrics', `${API_ROOT}${OPENAPI_PATH}`]);

export function isAdminPath(url: string): boolean {
  return url === ADMIN_PREFIX || url.startsWith(`${ADMIN_PREFIX}/`) || url.startsWith(`${ADMIN_PREFIX}?`);
}

/** The path of a request URL, without its query string. */
export function requestPath(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function withoutTrailingSlash(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** The path after `/client/v4` (or the path itself when served at the root), trailing slash ignored. */
export function apiPath(path: string): string {
  const p = withoutTrailingSlash(path);
  if (p === API_ROOT) return '/';
  return p.startsWith(`${API_ROOT}/`) ? p.slice(API_ROOT.length) : p;
}

/**
 * The public API (unknown routes included), as opposed to the admin API, health, readiness, metrics, the
 * OpenAPI document and the docs page: only public requests are faulted, journaled and rate limited.
 */
export function isPublicRequest(req: FastifyRequest): boolean {
  const path = withoutTrailingSlash(requestPath(req.originalUrl));
  return !isAdminPath(path) && !INFRASTRUCTURE.has(path) && !isDocsPath(path);
}
