import { Option, type Command } from 'commander';
import type { LogFormat, Role, ServeOptions } from '../server.js';
import type { PgPooler } from '../adapters/pooler.js';
import type { RateLimitPolicy } from '../cloudflare/rate-limit/options.js';
import { timeoutOption, timeoutsFrom } from '../http/timeout-options.js';
import {
  DEFAULT_CREDENTIAL_CACHE_MS,
  MAX_CREDENTIAL_CACHE_MS,
} from '../platform/tenancy/credential-cache.js';
import {
  databaseOption,
  intAtLeast,
  parsePort,
  pgPoolerOption,
  positiveInt,
  rateLimitPolicy,
  resourceTypesOption,
} from './options.js';

/** `rshare serve`: the HTTP API server and the reconciler, as `--role` says. */
export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API server')
    .addOption(new Option('--port <n>', 'port to listen on').env('PORT').default(8787).argParser(parsePort))
    .addOption(new Option('--host <h>', 'address to bind').env('HOST').default('127.0.0.1'))
    .addOption(databaseOption())
    .addOption(
      new Option('--bootstrap <file>', 'tenancy bootstrap JSON applied at startup').env('RSHARE_BOOTSTRAP'),
    )
    .option('--demo', 'seed a demo tenancy into an empty database and print its credentials', false)
    .addOption(new Option('--log-level <level>', 'pino log level').env('LOG_LEVEL').default('info'))
    .addOption(
      new Option(
        '--log-format <format>',
        'pretty: readable lines; json: JSON lines (default: pretty on a terminal)',
      )
        .env('RSHARE_LOG_FORMAT')
        .choices(['json', 'pretty']),
    )
    .addOption(
      new Option('--role <role>', 'api: HTTP only; worker: reconciler only; all: both')
        .env('RSHARE_ROLE')
        .choices(['api', 'worker', 'all'])
        .default('all'),
    )
    .addOption(
      new Option('--drivers <file>', 'delivery drivers per resource type (JSON)').env('RSHARE_DRIVERS'),
    )
    .addOption(resourceTypesOption())
    .addOption(
      new Option('--lease-ms <ms>', 'reconciler lease; claimed work of a dead worker is retried after it')
        .env('RSHARE_LEASE_MS')
        .default(30_000)
        .argParser(positiveInt),
    )
    .addOption(
      new Option('--poll-ms <ms>', 'reconciler poll interval when idle')
        .env('RSHARE_POLL_MS')
        .default(250)
        .argParser(positiveInt),
    )
    .addOption(
      new Option('--pool-size <n>', 'PostgreSQL connections of this process (ignored for SQLite)')
        .env('RSHARE_PG_POOL')
        .default(10)
        .argParser(positiveInt),
    )
    .addOption(pgPoolerOption())
    .addOption(
      new Option(
        '--admin-token <secret>',
        'turn on the admin API under /_rshare, behind this bearer token',
      ).env('RSHARE_ADMIN_TOKEN'),
    )
    .addOption(
      new Option(
        '--reconcile <mode>',
        'auto: reconcile in the background; manual: only on POST /_rshare/reconcile',
      )
        .env('RSHARE_RECONCILE')
        .choices(['auto', 'manual'])
        .default('auto'),
    )
    .addOption(
      new Option('--reconcile-delay-ms <ms>', 'in auto mode, work becomes due this long after the change')
        .env('RSHARE_RECONCILE_DELAY_MS')
        .default(0)
        .argParser(intAtLeast(0)),
    )
    .addOption(
      new Option('--id-seed <n>', 'make every generated object id a repeatable sequence')
        .env('RSHARE_ID_SEED')
        .argParser(intAtLeast(0)),
    )
    .addOption(
      new Option('--journal-size <n>', 'requests kept in the admin request journal')
        .env('RSHARE_JOURNAL_SIZE')
        .default(1000)
        .argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--journal-bytes <n>',
        'bytes the admin request journal keeps in all (oldest entries go first)',
      )
        .env('RSHARE_JOURNAL_BYTES')
        .default(16 * 1024 * 1024)
        .argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--journal-body-bytes <n>',
        "bytes of a journaled body's JSON; a longer body is kept truncated",
      )
        .env('RSHARE_JOURNAL_BODY_BYTES')
        .default(64 * 1024)
        .argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--statement-timeout-ms <ms>',
        'PostgreSQL statement timeout, 0 for none (requests answer 503 past it)',
      )
        .env('RSHARE_STATEMENT_TIMEOUT_MS')
        .default(4000)
        .argParser(intAtLeast(0)),
    )
    .addOption(
      new Option('--audit-reads', 'record successful reads as "view" audit log entries').env(
        'RSHARE_AUDIT_READS',
      ),
    )
    .addOption(
      new Option('--audit-retention-days <n>', 'audit log entries older than this are pruned by workers')
        .env('RSHARE_AUDIT_RETENTION_DAYS')
        .default(548)
        .argParser(positiveInt),
    )
    .addOption(timeoutOption('headers'))
    .addOption(timeoutOption('request'))
    .addOption(timeoutOption('keep-alive'))
    .addOption(
      new Option(
        '--rate-limit <policy>',
        "off (default), cloudflare (Cloudflare's 1200/300s) or <requests>/<seconds>s, per user or token",
      )
        .env('RSHARE_RATE_LIMIT')
        .argParser(rateLimitPolicy),
    )
    .addOption(
      new Option(
        '--credential-cache-ms <ms>',
        'reuse a successful credential check this long (0: off; at most 1000, so changes made on other nodes apply within 1 s)',
      )
        .env('RSHARE_CREDENTIAL_CACHE_MS')
        .default(DEFAULT_CREDENTIAL_CACHE_MS)
        .argParser(intAtLeast(0, MAX_CREDENTIAL_CACHE_MS)),
    )
    .addOption(
      new Option('--console <state>', 'serve the web console at /console')
        .env('RSHARE_CONSOLE')
        .choices(['on', 'off'])
        .default('on'),
    )
    .action(
      async (opts: {
        port: number;
        host: string;
        database: string;
        bootstrap?: string;
        demo: boolean;
        logLevel: string;
        logFormat?: LogFormat;
        role: Role;
        drivers?: string;
        resourceTypes?: string;
        leaseMs: number;
        pollMs: number;
        poolSize: number;
        pgPooler: PgPooler;
        adminToken?: string;
        reconcile: 'auto' | 'manual';
        reconcileDelayMs: number;
        idSeed?: number;
        journalSize: number;
        journalBytes: number;
        journalBodyBytes: number;
        auditReads?: boolean;
        auditRetentionDays: number;
        statementTimeoutMs: number;
        console: 'on' | 'off';
        headersTimeoutMs: number;
        requestTimeoutMs: number;
        keepAliveTimeoutMs: number;
        rateLimit?: RateLimitPolicy;
        credentialCacheMs: number;
      }) => {
        // Loaded lazily so admin commands never pull in the HTTP stack.
        const { serve, newAdminToken } = await import('../server.js');
        const options: ServeOptions = {
          host: opts.host,
          port: opts.port,
          database: opts.database,
          bootstrap: opts.bootstrap,
          demo: opts.demo,
          logLevel: opts.logLevel,
          logFormat: opts.logFormat,
          role: opts.role,
          drivers: opts.drivers,
          resourceTypes: opts.resourceTypes,
          leaseMs: opts.leaseMs,
          pollMs: opts.pollMs,
          poolSize: opts.poolSize,
          pgPooler: opts.pgPooler,
          // A demo server always has the admin API; its token is printed with the other credentials.
          adminToken: opts.adminToken ?? (opts.demo ? newAdminToken() : undefined),
          reconcile: opts.reconcile,
          reconcileDelayMs: opts.reconcileDelayMs,
          idSeed: opts.idSeed,
          journalSize: opts.journalSize,
          journalBytes: opts.journalBytes,
          journalBodyBytes: opts.journalBodyBytes,
          auditReads: opts.auditReads === true,
          statementTimeoutMs: opts.statementTimeoutMs,
          auditRetentionDays: opts.auditRetentionDays,
          console: opts.console === 'on',
          timeouts: timeoutsFrom(opts),
          rateLimit: opts.rateLimit,
          credentialCacheMs: opts.credentialCacheMs,
        };
        await serve(options);
      },
    );
}
