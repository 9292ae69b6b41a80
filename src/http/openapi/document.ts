import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { OpenAPIV3 } from 'openapi-types';
import { isAdminPath } from '../paths.js';
import { Failure } from '../common-schemas.js';
import { INFRASTRUCTURE_SCHEMAS } from './infrastructure.js';

type Security = NonNullable<FastifySchema['security']>;
/** A route schema as the generator reads it; `servers` becomes the operation's server override. */
type DocSchema = FastifySchema & { servers?: OpenAPIV3.ServerObject[] };

/** Either credential Cloudflare accepts: an API token, or an email with its global API key. */
export const API_SECURITY: Security = [{ api_token: [] }, { api_email: [], api_key: [] }];
export const ADMIN_SECURITY: Security = [{ admin_token: [] }];
/** Paths outside the API root (health, metrics, the admin API) are served from the host's root. */
const ROOT_SERVERS: OpenAPIV3.ServerObject[] = [{ url: '/', description: 'The server root' }];

/** The envelope every error is sent in (the error handler's `envelope()` is typed by the same schema). */
const FailureResponse = { ...Failure, description: 'Failure: the Cloudflare error envelope.' };
const ERROR_RESPONSES = { '4XX': FailureResponse, '5XX': FailureResponse };

/** Names and descriptions as Cloudflare's own document has them (`api_token`, `api_email` + `api_key`). */
const SECURITY_SCHEMES: Record<string, OpenAPIV3.SecuritySchemeObject> = {
  api_token: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (`Authorization: Bearer <token>`), from the bootstrap or demo tenancy.',
  },
  api_email: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Auth-Email',
    description: "A user's email, used with its global API key (`X-Auth-Key`).",
  },
  api_key: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Auth-Key',
    description: "A user's global API key, used with its email (`X-Auth-Email`).",
  },
  admin_token: {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin token (`rshare serve --admin-token`), for the admin API under `/_rshare`.',
  },
};

const TAGS: OpenAPIV3.TagObject[] = [
  { name: 'Resource Sharing', description: "Cloudflare's Resource Sharing API." },
  { name: 'Audit Logs', description: "The account's audit logs, in Cloudflare's version 1 and 2 shapes." },
  { name: 'User API Tokens', description: 'Token verification, as Cloudflare answers it.' },
  { name: 'Account API Tokens', description: 'Token verification, as Cloudflare answers it.' },
  {
    name: 'User Account Memberships',
    description: "The caller's accounts and what it may do in each, as Cloudflare lists them.",
  },
  { name: 'rshare', description: "rshare's own endpoints under the API root." },
  {
    name: 'rshare admin',
    description: 'Test-suite controls under `/_rshare`, mounted only when an admin token is set.',
  },
  { name: 'rshare operations', description: 'Liveness, readiness and Prometheus metrics.' },
];

/** What the generator starts from: everything but the paths, which come from the routes. */
export function documentBase(apiRoot: string): Partial<OpenAPIV3.Document> {
  return {
    openapi: '3.0.3',
    info: {
      title: 'rshare: Cloudflare Resource Sharing API',
      version: '4.0.0',
      description:
        "Cloudflare's Resource Sharing API (Cloudflare API v4) as rshare serves it, generated from the " +
        'schemas that validate its requests and serialize its responses.',
    },
    // Relative, so the document is right wherever rshare is served.
    servers: [{ url: apiRoot, description: 'The Cloudflare API root' }],
    components: { securitySchemes: SECURITY_SCHEMES },
    tags: TAGS,
  };
}

const within = (url: string, root: string) => url === root || url.startsWith(`${root}/`);

/** Each response described by its status text (`OK`, `Created`, ...) unless its schema says more. */
function described(responses: Record<string, unknown> = {}): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, schema]) => [
      status,
      (schema as { description?: string }).description === undefined
        ? { ...(schema as object), description: STATUS_CODES[status] ?? status }
        : schema,
    ]),
  );
}

/**
 * Per route, what the route schema does not say. Authenticated API routes (`config.access`, which the
 * authentication hook reads) take either Cloudflare credential and may fail in the error envelope; admin
 * routes take the admin token and fail the same way; the others (the document itself, health, readiness,
 * metrics) take none. Whatever is outside the API root is served from the host's root.
 */
export function transformRoute(apiRoot: string): SwaggerTransform {
  return ({ schema, url, route }) => {
    const given: DocSchema = schema ?? INFRASTRUCTURE_SCHEMAS[url] ?? {};
    const responses = described(given.response as Record<string, unknown> | undefined);
    const doc: DocSchema = { ...given, security: [], response: responses };
    if (within(url, apiRoot) && route.config?.access) {
      doc.security = API_SECURITY;
      doc.response = { ...responses, ...ERROR_RESPONSES };
    } else if (isAdminPath(url)) {
      doc.security = ADMIN_SECURITY;
      doc.response = { ...responses, ...ERROR_RESPONSES };
    }
    if (!within(url, apiRoot)) doc.servers = ROOT_SERVERS;
    return { schema: doc, url };
  };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Moves each path's operation-level `servers` to the path (all of a path's operations share them). */
export const hoistServers: SwaggerTransformObject = (doc) => {
  if (!('openapiObject' in doc)) return doc.swaggerObject;
  const paths = (doc.openapiObject.paths ?? {}) as Record<string, OpenAPIV3.PathItemObject>;
  for (const item of Object.values(paths)) {
    const ops = METHODS.map((m) => item[m]).filter((op) => op !== undefined);
    const servers = ops[0]?.servers;
    if (!servers || ops.some((op) => JSON.stringify(op.servers) !== JSON.stringify(servers))) continue;
    item.servers = servers;
    for (const op of ops) delete op.servers;
  }
  return doc.openapiObject;
};
