import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import { mountAdmin, type AdminMount } from './emulator/admin/plugin.js';
import { accountRoutes } from './cloudflare/accounts/routes.js';
import { AccountsService } from './cloudflare/accounts/service.js';
import { mountConsole } from './http/console/plugin.js';
import { auditReadHooks } from './cloudflare/audit/hook.js';
import { auditRoutes } from './cloudflare/audit/routes.js';
import { AuditService } from './cloudflare/audit/service.js';
import type { Store } from './adapters/store.js';
import { ExcludedRecipientsService } from './cloudflare/excluded-recipients/service.js';
import { excludedRecipientRoutes } from './cloudflare/excluded-recipients/routes.js';
import { faultHooks } from './emulator/faults/hook.js';
import { API_ROOT } from './http/paths.js';
import { isPreempted } from './http/preempted.js';
import type { FaultRegistry } from './emulator/faults/service.js';
import { Authenticator, type AuthenticatorOptions, type Principal } from './platform/tenancy/auth.js';
import { errorHandler, frameworkErrorHandler } from './http/error-handler.js';
import { idRoutingHook } from './http/id-routing.js';
import { httpMetricsHooks } from './http/metrics/hooks.js';
import type { HttpMetrics } from './http/metrics/service.js';
import { resolveLimits, type HttpLimitOptions } from './http/limits.js';
import { RequestLog } from './http/request-log.js';
import { installServerLimits, serverLimitOptions } from './http/server-limits.js';
import { lazySerializers } from './http/serialization.js';
import { findBadText, findTooDeep, MAX_BODY_DEPTH, validatorCompiler } from './http/validation.js';
import { journalHooks } from './emulator/journal/hook.js';
import type { Journal } from './emulator/journal/service.js';
import { MalformedJsonError, NoRouteError, ValidationError } from './http/errors.js';
import { registerOpenApi } from './http/openapi/plugin.js';
import type { App } from './http/types.js';
import { systemClock, type Clock } from './lib/clock.js';
import { timeOrderedIds, type IdSource } from './lib/ids.js';
import { RecipientsService } from './cloudflare/recipients/service.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from './platform/resource-types/registry.js';
import { bindResourceTypes } from './platform/resource-types/schemas.js';
import { recipientRoutes } from './cloudflare/recipients/routes.js';
import { ResourcesService } from './cloudflare/resources/service.js';
import { resourceRoutes } from './cloudflare/resources/routes.js';
import { SharesService } from './cloudflare/shares/service.js';
import { shareRoutes } from './cloudflare/shares/routes.js';
import { tokenRoutes } from './cloudflare/tokens/routes.js';
import { inventoryRoutes } from './cloudflare/inventory/routes.js';
import { membershipRoutes } from './cloudflare/memberships/routes.js';
import { MembershipsService } from './cloudflare/memberships/service.js';
import { rateLimitHooks } from './cloudflare/rate-limit/hook.js';
import type { RateLimitPolicy } from './cloudflare/rate-limit/options.js';
import { RateLimiter } from './cloudflare/rate-limit/service.js';

export interface AppOptions extends HttpLimitOptions {
  store: Store;
  clock?: Clock;
  /** Source of new object ids (random unless a seed makes them repeatable). */
  ids?: IdSource;
  /** A pino logger; without one (tests) nothing is logged. */
  logger?: FastifyBaseLogger;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  /** Called after every successful change, so an in-process reconciler starts at once. */
  onChange?: () => void;
  /** Serve the Cloudflare API (false for a worker, which only answers health and metrics). */
  api?: boolean;
  /** Prometheus registry served at /metrics. */
  metrics?: Registry;
  /** HTTP request metrics (kept in a registry the caller serves through `metrics`). */
  httpMetrics?: HttpMetrics;
  /** The admin API under `/_rshare`; absent, every `/_rshare` path is an unknown route. */
  admin?: AdminMount;
  /** Fault rules for the public API (test-suite control; in memory, per node). */
  faults?: FaultRegistry;
  /** Journal of public API requests (test-suite control; in memory, per node). */
  journal?: Journal;
  /** Record successful reads in the audit logs (`view` entries). */
  auditReads?: boolean;
  /** Serve the web console at `/console` (off unless asked; never without the API). */
  console?: boolean;
  /** Cloudflare's rate limit on the public API (`--rate-limit`); absent, no limiter runs at all. */
  rateLimit?: RateLimitPolicy;
  /** The server's resource types (built-in and declared); default: Cloudflare's. */
  resourceTypes?: ResourceTypeRegistry;
  /** How long a successful credential answer is reused, in clock ms (`--credential-cache-ms`; 0: off). */
  credentialCacheMs?: number;
}

/** The API's top-level path segments, also answered at the root (the SDK's own tests use a bare base URL). */
const ROOT_ALIAS = /^\/(?:accounts|memberships|organizations|user)(?:[/?]|$)/;

/**
 * `/accounts/…` is answered as `/client/v4/accounts/…`: the routes are registered once, under the API
 * root, instead of a second time at the root, which halved the routes a cold start builds.
 * `request.originalUrl` keeps the URL as sent.
 */
export function rewriteRootAlias(url: string): string {
  return ROOT_ALIAS.test(url) ? `${API_ROOT}${url}` : url;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** The services behind the Cloudflare routes, built once per app. */
export interface Services {
  shares: SharesService;
  recipients: RecipientsService;
  resources: ResourcesService;
  excludedRecipients: ExcludedRecipientsService;
  authenticator: Authenticator;
}

export function createServices(
  store: Store,
  clock: Clock,
  ids: IdSource = timeOrderedIds,
  types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  auth: AuthenticatorOptions = {},
): Services {
  return {
    shares: new SharesService(store, clock, ids, types),
    recipients: new RecipientsService(store, clock, ids),
    resources: new ResourcesService(store, clock, ids, types),
    excludedRecipients: new ExcludedRecipientsService(store, clock, ids),
    authenticator: new Authenticator(store.tenancy, clock, auth),
  };
}

export async function buildApp(options: AppOptions): Promise<App> {
  const clock = options.clock ?? systemClock;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = resolveLimits(options);
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit,
    // URL, header and timeout limits; what Node refuses below routing is answered in the envelope too.
    ...serverLimitOptions(limits, options.logger),
    // A caller's x-request-id is kept (for tracing across services) only if it is short and plain.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true },
    rewriteUrl: (req) => rewriteRootAlias(req.url ?? '/'),
    logController: new RequestLog(),
    // Malformed percent-encoding or an over-long path segment fail before routing: same envelope.
    frameworkErrors: frameworkErrorHandler(bodyLimit, limits.urlLimit, API_ROOT),
    schemaController: { compilersFactory: { buildSerializer: lazySerializers } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  installServerLimits(app, limits);
  app.setValidatorCompiler(validatorCompiler());
  // Only JSON bodies are accepted; any other content type is a 415.
  app.removeContentTypeParser('text/plain');
  // Many Cloudflare clients send `Content-Type: application/json` on every request, bodiless DELETEs
  // included: an empty body means "no body" on routes that take none (elsewhere it stays "Request body
  // is required"). Routes whose body is optional (a `nullable` body schema) take an empty body the same
  // way. Fastify's own parser does the rest, prototype-poisoning checks included.
  // JSON text is UTF-8 (RFC 8259): bytes that are not are refused, instead of becoming U+FFFD in the data.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, raw, done) => {
    let body: string;
    try {
      body = utf8.decode(raw as Buffer);
    } catch {
      return done(new MalformedJsonError(), undefined);
    }
    const schema = req.routeOptions.schema?.body as { nullable?: boolean } | undefined;
    if (body === '' && (schema === undefined || schema.nullable === true)) return done(null, undefined);
    return parseJson(req, body, done);
  });

  const types = options.resourceTypes ?? BUILTIN_RESOURCE_TYPES;
  const services = createServices(options.store, clock, options.ids, types, {
    cacheMs: options.credentialCacheMs,
  });

  // Test-suite control on the public API, registered before authentication: faults are decided before
  // authentication, as at Cloudflare's edge.
  if (options.faults) faultHooks(app, options.faults, bodyLimit);

  if (options.api !== false) idRoutingHook(app, API_ROOT);
  // Set by the onRequest hook on every authenticated route before any handler runs.
  app.decorateRequest('principal', null as unknown as Principal);
  if (options.rateLimit && options.api !== false) {
    const limiter = new RateLimiter(options.store.rateLimits, options.rateLimit, clock, (err) =>
      app.log.warn({ err }, 'rate limit prune failed'),
    );
    rateLimitHooks(app, limiter, services.authenticator);
  }
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const access = req.routeOptions.config.access;
    if (!access || isPreempted(req)) return;
    const params = req.params as Record<string, string | undefined>;
    // The rate limit's hook, when on, has authenticated the caller already (it counts per principal).
    req.principal ??= await services.authenticator.authenticate(req, access, params);
    services.authenticator.authorize(req.principal, access);
  });

  const onChange = options.onChange;
  if (onChange) {
    app.addHook('onResponse', async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && reply.statusCode < 300) onChange();
    });
  }

  // Nesting first (it bounds the recursion of the journal's copy and of the text check).
  app.addHook('preValidation', async (req) => {
    const depth = req.routeOptions.config.bodyDepth ?? MAX_BODY_DEPTH;
    const deep = findTooDeep(req.body, depth);
    if (deep !== undefined)
      throw new ValidationError(`The body is nested more than ${depth} levels deep`, deep);
  });
  // The journal keeps each body as sent, once it passed the parsing limits, before validation changes it.
  if (options.journal) journalHooks(app, options.journal);
  // Path and query parameters reach the stores as well as bodies do (`/shares/%00` is a lookup by id), so
  // none may hold a NUL or a lone surrogate.
  app.addHook('preValidation', async (req) => {
    const bad = findBadText(req.params, '/path') ?? findBadText(req.query, '/query') ?? findBadText(req.body);
    if (bad !== undefined) throw new ValidationError(bad.message, bad.pointer);
  });

  app.setErrorHandler(errorHandler(bodyLimit));
  app.setNotFoundHandler(() => {
    throw new NoRouteError();
  });
  // Before every route (and before the OpenAPI document collects them): each schema gets this server's
  // resource types.
  if (!types.builtinOnly) {
    app.addHook('onRoute', (route) => {
      if (route.schema) route.schema = bindResourceTypes(route.schema, types);
    });
  }
  // Before every route: the OpenAPI document is generated from the routes as they are added.
  if (options.api !== false) registerOpenApi(app, API_ROOT);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await options.store.ready();
      return { status: 'ready' };
    } catch (err) {
      app.log.warn({ err }, 'store not ready');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  if (options.httpMetrics) httpMetricsHooks(app, options.httpMetrics);
  const metrics = options.metrics;
  if (metrics) {
    app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  }

  const audit = new AuditService(options.store.audit);
  if (options.auditReads && options.api !== false) auditReadHooks(app, audit, clock);
  if (options.api !== false) {
    await app.register(
      async (api) => {
        const typed = api.withTypeProvider<TypeBoxTypeProvider>();
        shareRoutes(typed, services.shares);
        recipientRoutes(typed, services.recipients);
        resourceRoutes(typed, services.resources);
        excludedRecipientRoutes(typed, services.excludedRecipients);
        tokenRoutes(typed);
        inventoryRoutes(typed, options.store.inventory);
        auditRoutes(typed, audit);
        accountRoutes(typed, new AccountsService(options.store.accounts));
        membershipRoutes(typed, new MembershipsService(options.store.accounts));
      },
      { prefix: API_ROOT },
    );
  }
  if (options.admin) await mountAdmin(app, options.admin);
  if (options.console && options.api !== false) await mountConsole(app);
  await app.ready();
  return app;
}
