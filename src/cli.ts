#!/usr/bin/env node
import module from 'node:module';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { LogFormat, Role, ServeOptions } from './server.js';
import { PG_POOLERS, type PgPooler } from './adapters/pooler.js';
import type { AuditLogV2 } from './cloudflare/audit/schemas.js';
import { timeoutOption, timeoutsFrom } from './http/timeout-options.js';
import { systemClock } from './lib/clock.js';
import {
  parseRateLimit,
  RateLimitOptionError,
  type RateLimitPolicy,
} from './cloudflare/rate-limit/options.js';
import { openAdminTenancyStore } from './adapters/admin-store.js';
import { TenancyService } from './platform/tenancy/service.js';
import { toPublicToken, toPublicUser } from './platform/tenancy/rows.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from './platform/resource-types/registry.js';
import { SEEDED_TYPE } from './emulator/seed/store.js';
import type { AccountRow, OrganizationRow, TokenRow, UserRow } from './platform/tenancy/store.js';

const DEFAULT_DATABASE = './data/rshare.db';

// Most of a cold start is loading modules (TypeBox, Fastify, Ajv); Node 22.1+ can cache their compiled
// code between runs (the server's modules load after this line). A no-op on Node 20, which lacks it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

interface AdminOptions {
  database: string;
  /** Absent for commands that take no pooler (`migrate-store`: point it at PostgreSQL itself). */
  pgPooler?: PgPooler;
  json?: boolean;
  resourceTypes?: string;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidArgumentError('expected a port number (0-65535)');
  return port;
}

function positiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/** An integer of at least `min`, for options that may be zero or must be more than one. */
function intAtLeast(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value)))
      throw new InvalidArgumentError(`expected an integer of at least ${min}`);
    return Number(value);
  };
}

function rateLimitPolicy(value: string): RateLimitPolicy | undefined {
  try {
    return parseRateLimit(value);
  } catch (err) {
    if (err instanceof RateLimitOptionError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** `--account a b --account c,d` → `[a, b, c, d]`. */
function idList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).filter((v) => v !== '');
}

function commaList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function databaseOption(): Option {
  return new Option('--database <url>', 'SQLite file path, :memory: (nothing on disk) or postgres:// URL')
    .env('DATABASE_URL')
    .default(DEFAULT_DATABASE);
}

function pgPoolerOption(): Option {
  return new Option(
    '--pg-pooler <mode>',
    'what sits before PostgreSQL: none, or PgBouncer (or alike) in session or transaction mode',
  )
    .env('RSHARE_PG_POOLER')
    .choices(PG_POOLERS)
    .default('none');
}

function resourceTypesOption(): Option {
  return new Option(
    '--resource-types <file>',
    "this platform's resource types, with meta schema, entitlement and driver (JSON)",
  ).env('RSHARE_RESOURCE_TYPES');
}

/** Adds the options every admin command shares. */
function admin(command: Command): Command {
  return command
    .addOption(databaseOption())
    .addOption(pgPoolerOption())
    .addOption(resourceTypesOption())
    .option('--json', 'print JSON instead of text');
}

/** The server's resource types, as `serve` reads them (entitlements and seeded types are checked against them). */
async function resourceTypes(options: AdminOptions): Promise<ResourceTypeRegistry> {
  if (options.resourceTypes === undefined) return BUILTIN_RESOURCE_TYPES;
  const { loadResourceTypesFile } = await import('./platform/resource-types/file.js');
  return loadResourceTypesFile(options.resourceTypes);
}

/** Runs `fn` against the tenancy store and always closes it, so the process can exit promptly. */
async function withService<T>(
  options: AdminOptions,
  fn: (service: TenancyService) => Promise<T>,
): Promise<T> {
  const types = await resourceTypes(options);
  const { store, close } = await openAdminTenancyStore(options.database, options.pgPooler);
  try {
    return await fn(new TenancyService(store, systemClock, undefined, types));
  } finally {
    await close();
  }
}

function output(options: AdminOptions, json: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${text()}\n`);
}

function table(header: string[], body: string[][], empty: string): string {
  if (body.length === 0) return empty;
  const rows = [header, ...body];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const orgLine = (o: OrganizationRow) => [o.id, o.name, o.created];
const accountLine = (a: AccountRow) => [
  a.id,
  a.organization_id ?? '-',
  a.entitlements === null ? 'all' : a.entitlements.join(',') || 'none',
  a.name,
];
const userLine = (u: UserRow) => [
  u.id,
  u.email,
  u.accounts.join(',') || '-',
  u.organizations.join(',') || '-',
];
const tokenLine = (t: TokenRow) => [
  t.id,
  t.can_edit ? 'read,edit' : 'read',
  t.status,
  t.expires_on ?? 'never',
  t.name,
];

const auditLine = (e: AuditLogV2) => [
  e.action.time,
  e.action.type,
  e.action.result,
  e.actor.email ?? e.actor.token_name ?? e.actor.type,
  `${e.resource.type}:${e.resource.id}`,
  e.action.description,
];

/** `months` calendar months before now, or `days` days after it, as an RFC 3339 time. */
function fromNow({ months = 0, days = 0 }: { months?: number; days?: number }): string {
  const d = new Date();
  d.setUTCMonth(d.getUTCMonth() + months);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString();
}

const program = new Command('rshare')
  .description("Self-hostable server for Cloudflare's Resource Sharing API")
  .showHelpAfterError();

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
    }) => {
      // Loaded lazily so admin commands never pull in the HTTP stack.
      const { serve, newAdminToken } = await import('./server.js');
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
      };
      await serve(options);
    },
  );

program
  .command('migrate-store')
  .description('copy every row of an embedded SQLite store into an empty PostgreSQL database')
  .requiredOption('--from <path>', 'SQLite file of the embedded store (stop the server first)')
  .requiredOption('--to <url>', 'postgres:// URL of the target database (migrated, must hold no data)')
  .option('--json', 'print JSON instead of text')
  .action(async (opts: { from: string; to: string; json?: boolean }) => {
    const { copyStore } = await import('./adapters/copy.js');
    const counts = await copyStore(opts.from, opts.to);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    output({ database: opts.to, json: opts.json }, counts, () =>
      [
        `Copied ${total} rows from ${opts.from} to PostgreSQL:`,
        ...Object.entries(counts).map(([name, n]) => `  ${name.padEnd(26)} ${n}`),
      ].join('\n'),
    );
  });

admin(program.command('seed').description('fill an empty store with load-test data and print a token for it'))
  .requiredOption('--accounts <n>', 'accounts of the one organization (at least 2)', intAtLeast(2))
  .requiredOption('--shares <n>', 'shares, spread evenly over the accounts', intAtLeast(0))
  .option(
    '--token <value>',
    'value of the read+edit API token to create (at least 16 characters); generated when omitted',
  )
  .action(async (opts: AdminOptions & { accounts: number; shares: number; token?: string }) => {
    // Seeded shares hold custom-ruleset resources: a server without that type would refuse the store.
    if (!(await resourceTypes(opts)).has(SEEDED_TYPE)) {
      throw new Error(
        `seed: it creates ${SEEDED_TYPE} resources, which the resource types file does not declare`,
      );
    }
    const { seedStore } = await import('./emulator/seed/service.js');
    const { openStore } = await import('./adapters/open.js');
    const started = performance.now();
    // Bulk statements of a large seed run far longer than a request may.
    const store = await openStore(opts.database, { poolSize: 2, queryTimeoutMs: 0, pgPooler: opts.pgPooler });
    const result = await seedStore(store, opts).finally(() => store.close());
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    output(opts, result, () =>
      [
        `Seeded 1 organization, ${opts.accounts} accounts and ${opts.shares} shares (each with one delivered recipient and resource) in ${seconds}s`,
        `Organization: ${result.organization_id}`,
        `Token (read and edit on the organization and every account): ${result.token}`,
      ].join('\n'),
    );
  });

const org = program.command('org').description('manage organizations');
admin(org.command('create').description('create an organization'))
  .requiredOption('--name <name>', 'organization name')
  .option('--id <id>', 'identifier (32 lowercase hex); generated when omitted')
  .action(async (opts: AdminOptions & { name: string; id?: string }) => {
    const row = await withService(opts, (s) => s.createOrganization({ id: opts.id, name: opts.name }));
    output(opts, row, () => `Created organization ${row.id} (${row.name})`);
  });
admin(org.command('list').description('list organizations')).action(async (opts: AdminOptions) => {
  const rows = await withService(opts, (s) => s.listOrganizations());
  output(opts, rows, () => table(['ID', 'NAME', 'CREATED'], rows.map(orgLine), 'No organizations.'));
});

const account = program.command('account').description('manage accounts');
admin(account.command('create').description('create an account'))
  .requiredOption('--name <name>', 'account name')
  .option('--org <id>', 'organization the account belongs to')
  .option('--id <id>', 'identifier (32 lowercase hex); generated when omitted')
  .option('--entitlements <types>', 'comma-separated resource types it may receive (default: all)', commaList)
  .action(
    async (opts: AdminOptions & { name: string; org?: string; id?: string; entitlements?: string[] }) => {
      const row = await withService(opts, (s) =>
        s.createAccount({
          id: opts.id,
          name: opts.name,
          organization_id: opts.org,
          entitlements: opts.entitlements,
        }),
      );
      output(opts, row, () => `Created account ${row.id} (${row.name})`);
    },
  );
admin(account.command('list').description('list accounts'))
  .option('--org <id>', 'only accounts of this organization')
  .action(async (opts: AdminOptions & { org?: string }) => {
    const rows = await withService(opts, (s) => s.listAccounts(opts.org));
    output(opts, rows, () =>
      table(['ID', 'ORGANIZATION', 'ENTITLEMENTS', 'NAME'], rows.map(accountLine), 'No accounts.'),
    );
  });
admin(account.command('move').description('move an account to another organization (or out, with --no-org)'))
  .requiredOption('--id <id>', 'account to move')
  .option('--org <id>', 'organization to move it into')
  .option('--no-org', 'take it out of its organization')
  .action(async (opts: AdminOptions & { id: string; org?: string | boolean }) => {
    // Commander leaves `org` undefined (neither flag), a string (--org) or false (--no-org).
    if (opts.org === undefined || opts.org === true)
      throw new Error('account move: pass --org <id> or --no-org');
    const target = opts.org === false ? null : opts.org;
    const { row, change } = await withService(opts, (s) => s.moveAccount(opts.id, target));
    output(opts, row, () =>
      change === 'unchanged'
        ? `Account ${row.id} is already ${target === null ? 'in no organization' : `in organization ${target}`}`
        : `Moved account ${row.id} ${target === null ? 'out of its organization' : `to organization ${target}`}`,
    );
  });
admin(account.command('entitlements').description('set the resource types an account may receive'))
  .requiredOption('--id <id>', 'account to change')
  .option('--set <types>', 'comma-separated resource types it may receive', commaList)
  .option('--all', 'let it receive every resource type')
  .action(async (opts: AdminOptions & { id: string; set?: string[]; all?: boolean }) => {
    if ((opts.set === undefined) === (opts.all === undefined)) {
      throw new Error('account entitlements: pass exactly one of --set <types> or --all');
    }
    const types = opts.set ?? null;
    const { row, change } = await withService(opts, (s) => s.setEntitlements(opts.id, types));
    const shown = row.entitlements === null ? 'all' : row.entitlements.join(',') || 'none';
    output(opts, row, () =>
      change === 'unchanged'
        ? `Account ${row.id} entitlements unchanged (${shown})`
        : `Set account ${row.id} entitlements to ${shown}`,
    );
  });

const user = program.command('user').description('manage users (email + global API key)');
admin(user.command('create').description('create a user; prints its global API key once'))
  .requiredOption('--email <email>', 'email address')
  .option('--api-key <key>', 'global API key to use; generated when omitted')
  .option('--account <id...>', 'accounts the user may act on')
  .option('--org <id...>', 'organizations the user may act on')
  .action(
    async (opts: AdminOptions & { email: string; apiKey?: string; account?: string[]; org?: string[] }) => {
      const { user: row, apiKey } = await withService(opts, (s) =>
        s.createUser({
          email: opts.email,
          api_key: opts.apiKey,
          accounts: idList(opts.account),
          organizations: idList(opts.org),
        }),
      );
      output(
        opts,
        { user: toPublicUser(row), api_key: apiKey },
        () => `Created user ${row.id} (${row.email})\nGlobal API key (shown only once): ${apiKey}`,
      );
    },
  );
admin(user.command('list').description('list users')).action(async (opts: AdminOptions) => {
  const rows = await withService(opts, (s) => s.listUsers());
  output(opts, rows.map(toPublicUser), () =>
    table(['ID', 'EMAIL', 'ACCOUNTS', 'ORGANIZATIONS'], rows.map(userLine), 'No users.'),
  );
});

const token = program.command('token').description('manage API tokens');
admin(token.command('create').description('create an API token; prints its value once'))
  .requiredOption('--name <name>', 'token name')
  .option('--account <id...>', 'accounts the token may act on')
  .option('--org <id...>', 'organizations the token may act on')
  .option('--permissions <list>', "'read' or 'read,edit'", commaList, ['read'])
  .option('--expires-on <date-time>', 'RFC 3339 expiry (default: never)')
  .option('--value <secret>', 'token value to use (at least 16 characters); generated when omitted')
  .action(
    async (
      opts: AdminOptions & {
        name: string;
        account?: string[];
        org?: string[];
        permissions: string[];
        expiresOn?: string;
        value?: string;
      },
    ) => {
      const { token: row, value } = await withService(opts, (s) =>
        s.createToken({
          name: opts.name,
          value: opts.value,
          accounts: idList(opts.account),
          organizations: idList(opts.org),
          permissions: opts.permissions,
          expires_on: opts.expiresOn ?? null,
        }),
      );
      output(
        opts,
        { token: toPublicToken(row), value },
        () => `Created token ${row.id} (${row.name})\nToken value (shown only once): ${value}`,
      );
    },
  );
admin(token.command('list').description('list API tokens')).action(async (opts: AdminOptions) => {
  const rows = await withService(opts, (s) => s.listTokens());
  output(opts, rows.map(toPublicToken), () =>
    table(['ID', 'PERMISSIONS', 'STATUS', 'EXPIRES', 'NAME'], rows.map(tokenLine), 'No tokens.'),
  );
});

admin(program.command('audit').description("print an account's audit log, newest first"))
  .requiredOption('--account <id>', 'account whose log to print')
  .option('--since <time>', 'entries at or after this date or RFC 3339 time (default: 18 months ago)')
  .option('--before <time>', 'entries before this date or RFC 3339 time (default: a day from now)')
  .option('--limit <n>', 'at most this many entries', positiveInt, 100)
  .action(
    async (opts: AdminOptions & { account: string; since?: string; before?: string; limit: number }) => {
      const { openStore } = await import('./adapters/open.js');
      const { AuditService } = await import('./cloudflare/audit/service.js');
      const store = await openStore(opts.database, { poolSize: 2, pgPooler: opts.pgPooler });
      const entries: AuditLogV2[] = [];
      try {
        if (!(await store.tenancy.getAccount(opts.account))) {
          throw new Error(`audit: unknown account ${opts.account}`);
        }
        const audit = new AuditService(store.audit);
        const since = opts.since ?? fromNow({ months: -18 });
        const before = opts.before ?? fromNow({ days: 1 });
        // The API's own pages (at most 1000 entries each), followed by their cursor up to the limit.
        let cursor: string | undefined;
        do {
          const limit = Math.min(1000, opts.limit - entries.length);
          const page = await audit.listV2(opts.account, { since, before, limit, cursor });
          entries.push(...page.items);
          cursor = page.cursor;
        } while (cursor !== undefined && entries.length < opts.limit);
      } finally {
        await store.close();
      }
      output(opts, entries, () =>
        table(
          ['TIME', 'ACTION', 'RESULT', 'ACTOR', 'RESOURCE', 'DESCRIPTION'],
          entries.map(auditLine),
          `No audit log entries for account ${opts.account}.`,
        ),
      );
    },
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`rshare: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
