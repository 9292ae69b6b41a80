import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { HttpMetrics } from './http/metrics/service.js';
import { resolveLimits, type ServerTimeouts } from './http/limits.js';
import { randomBytes } from 'node:crypto';
import { buildApp } from './app.js';
import { AdminService } from './emulator/admin/service.js';
import { AuditPruner, DEFAULT_AUDIT_RETENTION_DAYS } from './cloudflare/audit/retention.js';
import { adminRoutes, type AdminServices } from './emulator/admin/routes.js';
import { CONSOLE_PATH } from './http/console/plugin.js';
import { ControlService } from './emulator/control/service.js';
import { openStore } from './adapters/open.js';
import type { PgPooler } from './adapters/pooler.js';
import type { Store } from './adapters/store.js';
import { FaultRegistry } from './emulator/faults/service.js';
import { withDeliveryFaults } from './emulator/faults/deliveries.js';
import { Journal } from './emulator/journal/service.js';
import { ControlledClock } from './lib/clock.js';
import { timeOrderedIds, seededIds } from './lib/ids.js';
import type { RateLimitPolicy } from './cloudflare/rate-limit/options.js';
import { buildDrivers } from './engine/reconciler/drivers/index.js';
import { loadDriversFile } from './platform/resource-types/drivers-file.js';
import { assertTypesInUseDeclared } from './cloudflare/resources/types-in-use.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from './platform/resource-types/registry.js';
import { Reconciler } from './engine/reconciler/reconciler.js';
import { delayedWork } from './engine/reconciler/timing.js';
import { StateService } from './emulator/state/service.js';
import { applyBootstrap, loadBootstrapFile } from './platform/tenancy/bootstrap.js';
import { formatAdminTokenLine, formatDemoBanner, seedDemo, type DemoSeed } from './platform/tenancy/demo.js';
import { TenancyService } from './platform/tenancy/service.js';
import { credentialCacheMs } from './platform/tenancy/credential-cache.js';

export type Role = 'api' | 'worker' | 'all';
export const ROLES: readonly Role[] = ['api', 'worker', 'all'];
export type ReconcileMode = 'auto' | 'manual';
export type LogFormat = 'json' | 'pretty';

export interface ServeOptions {
  host: string;
  port: number;
  /** SQLite file path, `:memory:` (nothing on disk), or a postgres:// URL. */
  database: string;
  /** Tenancy bootstrap: a JSON file path, or (in process) the parsed document. */
  bootstrap?: string | object;
  demo: boolean;
  logLevel: string;
  /** `pretty`: human-readable lines (pino-pretty); `json`: one JSON object a line. Default: pretty on a terminal. */
  logFormat?: LogFormat;
  /** `api` serves HTTP only, `worker` reconciles only (plus health and metrics), `all` does both. */
  role?: Role;
  /** Delivery drivers per resource type (JSON file); every type uses the inventory driver by default. */
  drivers?: string;
  /** Resource types beyond (or instead of) Cloudflare's: a JSON file path, or (in process) the document. */
  resourceTypes?: string | object;
  /** Reconciler lease duration; a worker that dies loses its claimed work after this. */
  leaseMs?: number;
  /** Reconciler poll interval when idle. */
  pollMs?: number;
  /** PostgreSQL connections of this process (default 10); ignored for SQLite. */
  poolSize?: number;
  /** PostgreSQL statement timeout (default 4000; 0: none); ignored for SQLite. */
  statementTimeoutMs?: number;
  /** `transaction` behind PgBouncer in transaction mode, `session` in session mode (default `none`). */
  pgPooler?: PgPooler;
  /** Turns the admin API on under `/_rshare`, behind this bearer token. */
  adminToken?: string;
  /** `manual`: nothing changes status until `POST /_rshare/reconcile` (default `auto`). */
  reconcile?: ReconcileMode;
  /** In `auto`, work becomes due this long after the change that caused it (default 0). */
  reconcileDelayMs?: number;
  /** Makes every generated object id a repeatable sequence. */
  idSeed?: number;
  /** Requests kept in the admin API's journal (default 1,000). */
  journalSize?: number;
  /** Bytes the journal keeps in all, counted as its entries' JSON (default 16 MiB). */
  journalBytes?: number;
  /** Bytes of one journaled body's JSON; a longer body is kept cut there, marked truncated (default 64 KiB). */
  journalBodyBytes?: number;
  /** Record successful reads as `view` audit entries (default off, so reads stay cheap). */
  auditReads?: boolean;
  /** Audit entries older than this are pruned by worker nodes (default 548: Cloudflare's 18 months). */
  auditRetentionDays?: number;
  /** Serve the web console at `/console` (default on; never on a worker). */
  console?: boolean;
  /** HTTP server timeouts (see DEFAULT_TIMEOUTS). */
  timeouts?: Partial<ServerTimeouts>;
  /** Cloudflare's rate limit on the public API, per user or token (`--rate-limit`; default off). */
  rateLimit?: RateLimitPolicy;
  /** How long a successful credential answer is reused (default 500 ms; 0: off; at most 1000). */
  credentialCacheMs?: number;
}

/** What the admin API controls, for in-process callers (`startRshare`). */
export type AdminHandle = AdminServices;

export interface RunningServer {
  url: string;
  store: Store;
  clock: ControlledClock;
  reconciler?: Reconciler;
  /** Present when the admin API is on. */
  admin?: AdminHandle;
  /** The demo tenancy this start created (its secrets are only known now). */
  demo?: DemoSeed;
  close(): Promise<void>;
}

/** Secrets never reach the log, whatever a log line carries. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-auth-key"]',
  'req.headers["x-auth-email"]',
  '*.api_key',
  '*.secret',
  '*.value',
  '*.token',
];

/** A fresh admin token (for `--demo` and `startRshare` when none is given). */
export function newAdminToken(): string {
  return `rshare-admin-${randomBytes(24).toString('base64url')}`;
}

/**
 * Opens the store, applies bootstrap/demo data, starts the reconciler (unless manual) and listens.
 * Installs no signal handlers and prints nothing: `serve` (the CLI) and `startRshare` (in process) do
 * what each needs around it.
 */
export async function startServer(options: ServeOptions, logger: Logger): Promise<RunningServer> {
  const role = options.role ?? 'all';
  const mode = options.reconcile ?? 'auto';
  resolveLimits({ timeouts: options.timeouts }); // refused before anything opens or starts
  if (options.credentialCacheMs !== undefined) credentialCacheMs(options.credentialCacheMs);
  const { types, source: typesSource } = await resourceTypesOf(options.resourceTypes);
  const clock = new ControlledClock();
  const ids = options.idSeed === undefined ? timeOrderedIds : seededIds(options.idSeed);
  const tenancyIds = options.idSeed === undefined ? timeOrderedIds : seededIds(options.idSeed, 'tenancy');
  const delayMs = mode === 'auto' ? (options.reconcileDelayMs ?? 0) : 0;
  // The test-suite controls exist only with the admin API: without it, no hook or driver wrapper runs.
  // The journal is made first, so bad journal options are refused before anything opens.
  const adminToken = options.adminToken;
  const admin = adminToken !== undefined;
  const journal = admin
    ? new Journal({
        clock,
        size: options.journalSize,
        maxBytes: options.journalBytes,
        maxBodyBytes: options.journalBodyBytes,
      })
    : undefined;
  const store = await openStore(options.database, {
    poolSize: options.poolSize,
    timing: delayedWork(clock, delayMs),
    queryTimeoutMs: options.statementTimeoutMs,
    pgPooler: options.pgPooler,
  });
  // Stopped if the start fails after they started, so a failed start never leaves work running.
  let reconciler: Reconciler | undefined;
  let pruner: AuditPruner | undefined;
  try {
    await assertTypesInUseDeclared(store.resources, types, typesSource);
    const tenancy = new TenancyService(store.tenancy, clock, tenancyIds, types);
    const bootstrap = options.bootstrap;
    const applyFile = async () => {
      if (bootstrap === undefined) return;
      const source = typeof bootstrap === 'string' ? bootstrap : 'bootstrap object';
      const doc = typeof bootstrap === 'string' ? await loadBootstrapFile(bootstrap) : bootstrap;
      await applyBootstrap(tenancy, doc, source);
    };
    if (bootstrap !== undefined) {
      await applyFile();
      logger.info({ file: typeof bootstrap === 'string' ? bootstrap : 'object' }, 'bootstrap applied');
    }
    const demo = options.demo ? await seedDemo(tenancy, store.tenancy) : undefined;

    const faults = admin ? new FaultRegistry() : undefined;

    // An API node with the admin API on keeps an idle reconciler, so `POST /_rshare/reconcile` works.
    if (role !== 'api' || admin) {
      const config = options.drivers ? await loadDriversFile(options.drivers, types) : {};
      const drivers = buildDrivers(config, store.inventory, clock, types);
      reconciler = new Reconciler({
        store,
        clock,
        ids,
        drivers: faults ? withDeliveryFaults(drivers, faults) : drivers,
        resourceTypes: types,
        logger: logger.child({ component: 'reconciler' }),
        leaseMs: options.leaseMs,
      });
    }
    const loop = role !== 'api' && mode === 'auto' ? reconciler : undefined;
    loop?.start(options.pollMs);
    pruner =
      role === 'api'
        ? undefined
        : new AuditPruner(
            store.audit,
            clock,
            options.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS,
            logger.child({ component: 'audit' }),
          );
    pruner?.start();

    let services: AdminServices | undefined;
    if (faults && journal && reconciler) {
      const paused = reconciler;
      const state = new StateService(store.state, (change) => paused.whilePaused(change), types);
      services = {
        state,
        control: new ControlService(store, reconciler, clock),
        faults,
        journal,
        admin: new AdminService({
          state,
          faults,
          journal,
          clock,
          ids,
          baseline: await state.exportTenancy(),
          // A file is read again (edits between tests take effect); an object is already in the baseline.
          reapplyBootstrap: typeof bootstrap === 'string' ? applyFile : undefined,
        }),
      };
    }

    // Every node that serves the API counts its requests; /metrics shows them beside the reconciler's.
    const httpMetrics = role === 'worker' ? undefined : new HttpMetrics();
    const registries = [httpMetrics?.registry, reconciler?.metrics.registry].filter((r) => r !== undefined);
    const app = await buildApp({
      store,
      logger,
      clock,
      ids,
      api: role !== 'worker',
      metrics: registries.length > 0 ? Registry.merge(registries) : undefined,
      httpMetrics,
      onChange: loop ? () => loop.notify() : undefined,
      auditReads: options.auditReads,
      console: options.console ?? true,
      faults,
      journal,
      timeouts: options.timeouts,
      rateLimit: options.rateLimit,
      credentialCacheMs: options.credentialCacheMs,
      resourceTypes: types,
      admin:
        services && adminToken !== undefined
          ? { token: adminToken, routes: (a) => adminRoutes(a, services) }
          : undefined,
    });
    const address = await app.listen({ host: options.host, port: options.port });
    const url = address.replace('0.0.0.0', '127.0.0.1');
    const consoleUrl = role !== 'worker' && (options.console ?? true) ? `${url}${CONSOLE_PATH}` : undefined;
    logger.info(
      { url, database: store.kind, reconcile: mode, admin, console: consoleUrl },
      'rshare listening',
    );

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await app.close();
        await pruner?.stop();
        await reconciler?.stop();
        await store.close();
      })());
    return { url, store, clock, reconciler, admin: services, demo, close };
  } catch (err) {
    await pruner?.stop();
    await reconciler?.stop();
    await store.close();
    throw err;
  }
}

/** The server's resource types, and how errors name where they came from. */
async function resourceTypesOf(
  given: string | object | undefined,
): Promise<{ types: ResourceTypeRegistry; source: string }> {
  if (given === undefined) return { types: BUILTIN_RESOURCE_TYPES, source: '(built-in only)' };
  // Loaded only for a file: Ajv's 2020-12 dialect is not needed otherwise.
  const { loadResourceTypesFile, parseResourceTypes } = await import('./platform/resource-types/file.js');
  if (typeof given === 'string') return { types: await loadResourceTypesFile(given), source: given };
  return { types: await parseResourceTypes(given, 'object'), source: 'object' };
}

/**
 * JSON lines for machines (the default when stdout is not a terminal), pino's own pretty printer for
 * people. Written synchronously, so log lines and the demo banner keep their order.
 */
async function cliLogger(options: ServeOptions, role: Role): Promise<Logger> {
  const format = options.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const settings = { level: options.logLevel, redact: REDACT, base: { service: 'rshare', role } };
  if (format === 'json') return pino(settings);
  const { default: pretty } = await import('pino-pretty');
  return pino(
    settings,
    pretty({
      colorize: process.stdout.isTTY === true,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service,role',
    }),
  );
}

/** The CLI's server: JSON logs, the demo banner, and a clean exit on SIGINT / SIGTERM. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const role = options.role ?? 'all';
  const logger = await cliLogger(options, role);
  const server = await startServer(options, logger);
  const adminToken = options.demo ? options.adminToken : undefined;
  const consoleUrl =
    role !== 'worker' && (options.console ?? true) ? `${server.url}${CONSOLE_PATH}` : undefined;
  if (server.demo) {
    process.stdout.write(`${formatDemoBanner(server.demo, server.url, adminToken, consoleUrl)}\n`);
  } else if (options.demo) {
    logger.info(
      'demo data already present; its secrets were printed when it was created (delete the database to start over)',
    );
    if (adminToken !== undefined) process.stdout.write(`${formatAdminTokenLine(adminToken, server.url)}\n`);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      void server.close().then(() => process.exit(0));
    });
  }
  return server;
}
