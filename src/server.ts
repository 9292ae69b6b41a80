import pino from 'pino';
import { buildApp } from './app.js';
import { openStore } from './db/open.js';
import type { Store } from './db/store.js';
import { systemClock } from './lib/clock.js';
import { applyBootstrap, loadBootstrapFile } from './tenancy/bootstrap.js';
import { formatDemoBanner, seedDemo } from './tenancy/demo.js';
import { TenancyService } from './tenancy/service.js';

export interface ServeOptions {
  host: string;
  port: number;
  database: string;
  bootstrap?: string;
  demo: boolean;
  logLevel: string;
}

export interface RunningServer {
  url: string;
  store: Store;
  close(): Promise<void>;
}

/** Secrets never reach the log, whatever a log line carries. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-auth-key"]',
  'req.headers["x-auth-email"]',
  '*.api_key',
  '*.value',
  '*.token',
];

/** Opens the store, applies bootstrap/demo data, and listens until closed or signalled. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const logger = pino({ level: options.logLevel, redact: REDACT, base: { service: 'rshare' } });
  const store = await openStore(options.database);
  const tenancy = new TenancyService(store.tenancy, systemClock);
  if (options.bootstrap) {
    await applyBootstrap(tenancy, await loadBootstrapFile(options.bootstrap), options.bootstrap);
    logger.info({ file: options.bootstrap }, 'bootstrap applied');
  }
  const demo = options.demo ? await seedDemo(tenancy, store.tenancy) : undefined;

  const app = await buildApp({ store, logger });
  const address = await app.listen({ host: options.host, port: options.port });
  const url = address.replace('0.0.0.0', '127.0.0.1');
  logger.info({ url, database: store.kind }, 'rshare listening');
  if (demo) process.stdout.write(`${formatDemoBanner(demo, url)}\n`);
  else if (options.demo) logger.info('demo data not seeded: the store already has organizations');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await store.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      void close().then(() => process.exit(0));
    });
  }
  return { url, store, close };
}
