import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { documentBase, hoistServers, transformRoute } from './document.js';
import { DOCS_PREFIX } from '../paths.js';

/** What the document is generated from: a route of the app, as it was added. */
export type DescribedRoute = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>;

export interface DocsInstance {
  /** The OpenAPI document, serialized once. */
  document: string;
  /** Answers `/docs` and its assets (Swagger UI from @fastify/swagger-ui's own files). */
  app: FastifyInstance;
}

/**
 * The docs page loads only what it is served: Swagger UI's own files from npm (no CDN), the logo as a
 * data: URI, and the document from this origin. The one inline style is the `<style>` of Swagger UI's
 * top-bar logo (an inline SVG in swagger-ui-bundle.js), allowed by its hash; the docs browser test fails
 * on any other blocked style or script, so an upgrade that changes it is noticed.
 */
const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; font-src 'self' data:; form-action 'self'; " +
  "frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; " +
  "script-src-attr 'none'; style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

const describedOnly = () => {
  throw new Error('this instance only describes routes');
};

/**
 * A Fastify instance of its own holding @fastify/swagger (dynamic mode) and @fastify/swagger-ui, given
 * the app's routes with their own schema objects: built on the first request for the document or the
 * page, so a start never loads either plugin (importing and registering them cost more than half of a
 * first in-process start). Its routes only describe: nothing is validated or serialized here, so
 * nothing is compiled.
 */
export async function buildDocsInstance(routes: DescribedRoute[], apiRoot: string): Promise<DocsInstance> {
  // Imported here, not at the top: the CLI bundle keeps both outside (see scripts/bundle.ts), and a
  // bundled static import of an outside module would be loaded at every start.
  const [{ default: fastifySwagger }, { default: fastifySwaggerUi }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ]);
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(fastifySwagger, {
    mode: 'dynamic',
    openapi: documentBase(apiRoot),
    transform: transformRoute(apiRoot),
    transformObject: hoistServers,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CSP,
    theme: { title: 'rshare API' },
    uiConfig: { deepLinking: true, displayOperationId: true, defaultModelsExpandDepth: 0 },
  });
  for (const { method, url, schema, config } of routes) {
    app.route({ method, url, schema, config, handler: describedOnly });
  }
  await app.ready();
  return { document: JSON.stringify(app.swagger()), app };
}
