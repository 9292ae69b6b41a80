import pino from 'pino';
import { buildApp } from './app.js';
import { openStore } from './db/open.js';
import type { Store } from './db/store.js';
import { systemClock } from './lib/clock.js';
import { buildDrivers, loadDriversFile } from './reconciler/drivers/index.js';
import { Reconciler } from './reconciler/reconciler.js';
import { applyBootstrap, loadBootstrapFile } from './tenancy/bootstrap.js';
import { formatDemoBanner, seedDemo } from './tenancy/demo.js';
import { TenancyService } from './tenancy/service.js';

export type Role = 'api' | 'worker' | 'all';
export const ROLES: readonly Role[] = ['api', 'worker', 'all'];

export interface ServeOptions {
  host: string;
  port: number;
  database: string;
  bootstrap?: string;
  demo: boolean;
  logLevel: string;
  /** `api` serves HTTP only, `worker` reconciles only (plus health and metrics), `all` does both. */
  role?: Role;
  /** Delivery drivers per resource type (JSON file); every type uses the inventory driver by default. */
  drivers?: string;
  /** Reconciler lease duration; a worker that dies loses its claimed work after this. */
  leaseMs?: number;
  /** Reconciler poll interval when idle. */
  pollMs?: number;
  /** PostgreSQL connections of this process (default 10); ignored for SQLite. */
  poolSize?: number;
}

export interface RunningServer {
  url: string;
  store: Store;
  reconciler?: Reconciler;
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

/** Opens the store, applies bootstrap/demo data, starts the reconciler and listens until closed or signalled. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const role = options.role ?? 'all';
  const logger = pino({ level: options.logLevel, redact: REDACT, base: { service: 'rshare', role } });
  const store = await openStore(options.database, { poolSize: options.poolSize });
  const tenancy = new TenancyService(store.tenancy, systemClock);
  if (options.bootstrap) {
    await applyBootstrap(tenancy, await loadBootstrapFile(options.bootstrap), options.bootstrap);
    logger.info({ file: options.bootstrap }, 'bootstrap applied');
  }
  const demo = options.demo ? await seedDemo(tenancy, store.tenancy) : undefined;

  let reconciler: Reconciler | undefined;
  if (role !== 'api') {
    const config = options.drivers ? await loadDriversFile(options.drivers) : {};
    reconciler = new Reconciler({
      store,
      clock: systemClock,
      drivers: buildDrivers(config, store.inventory, systemClock),
      logger: logger.child({ component: 'reconciler' }),
      leaseMs: options.leaseMs,
    });
    reconciler.start(options.pollMs);
  }

  const app = await buildApp({
    store,
    logger,
    api: role !== 'worker',
    metrics: reconciler?.metrics.registry,
    onChange: reconciler ? () => reconciler.notify() : undefined,
  });
  const address = await app.listen({ host: options.host, port: options.port });
  const url = address.replace('0.0.0.0', '127.0.0.1');
  logger.info({ url, database: store.kind }, 'rshare listening');
  if (demo) process.stdout.write(`${formatDemoBanner(demo, url)}\n`);
  else if (options.demo) {
    logger.info(
      'demo data already present; its secrets were printed when it was created (delete the database to start over)',
    );
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await reconciler?.stop();
      await store.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      void close().then(() => process.exit(0));
    });
  }
  return { url, store, reconciler, close };
}
