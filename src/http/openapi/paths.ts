/** Where Swagger UI is served (its page, its static assets under `/docs/static`, and its own copy of the document). */
export const DOCS_PREFIX = '/docs';

/** The document's path under the API root (`/client/v4/openapi.json`). */
export const OPENAPI_PATH = '/openapi.json';

/** The docs page and its assets: not the public API, so never faulted or journaled. */
export function isDocsPath(path: string): boolean {
  return path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`);
}
