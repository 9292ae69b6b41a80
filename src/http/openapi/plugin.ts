import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NoRouteError } from '../errors.js';
import type { App } from '../types.js';
import type { DescribedRoute, DocsInstance } from './docs-instance.js';
import { DOCS_PREFIX, isDocsPath, OPENAPI_PATH } from '../paths.js';

/** Sent as text (built once; a serializer would only copy it), hence no static type. */
const OpenApiDocument = Type.Unsafe<unknown>(
  Type.Object(
    { openapi: Type.String() },
    { additionalProperties: true, description: 'This OpenAPI 3 document.' },
  ),
);

/** Request headers the docs instance sees (conditional requests get their 304). */
const FORWARDED = ['if-none-match', 'if-modified-since'] as const;
/** Response headers this app sets itself. */
const NOT_COPIED = new Set(['content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

/**
 * Serves the OpenAPI document at `<apiRoot>/openapi.json` and Swagger UI at `/docs`. Called before any
 * route is added: every route is collected as it is added (onRoute), and the document is generated from
 * them, with their own schemas, on the first request for it or for the page (see `buildDocsInstance`).
 */
export function registerOpenApi(app: App, apiRoot: string): void {
  const routes: DescribedRoute[] = [];
  app.addHook('onRoute', ({ method, url, schema, config }) => {
    // HEAD routes are Fastify's own copies of the GET ones; the page's routes are not the API.
    if (method !== 'HEAD' && !isDocsPath(url)) routes.push({ method, url, schema, config });
  });

  let docs: Promise<DocsInstance> | undefined;
  const load = () =>
    (docs ??= import('./docs-instance.js')
      .then(({ buildDocsInstance }) => buildDocsInstance(routes, apiRoot))
      .catch((err: unknown) => {
        docs = undefined;
        throw err;
      }));
  app.addHook('onClose', async () => {
    if (docs) await (await docs).app.close();
  });

  app.get(`${apiRoot}${OPENAPI_PATH}`, {
    schema: {
      operationId: 'rshare-openapi-get',
      summary: 'This OpenAPI document',
      tags: ['rshare'],
      response: { 200: OpenApiDocument },
    },
    handler: async (_req, reply) =>
      reply.type('application/json; charset=utf-8').send((await load()).document),
  });

  // The page and its assets, answered by the docs instance; a file it does not have is an unknown route.
  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const { app: docs } = await load();
    const res = await docs.inject({ method: req.method as 'GET' | 'HEAD', url: req.url, headers });
    if (res.statusCode === 404) throw new NoRouteError();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined && !NOT_COPIED.has(name)) void reply.header(name, value);
    }
    return reply.code(res.statusCode).send(res.rawPayload);
  };
  app.get(DOCS_PREFIX, page);
  app.get(`${DOCS_PREFIX}/*`, page);
}
