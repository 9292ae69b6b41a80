import type { Command } from 'commander';
import type { AuditLogV2 } from '../cloudflare/audit/schemas.js';
import { SEEDED_TYPE } from '../emulator/seed/store.js';
import {
  admin,
  type AdminOptions,
  intAtLeast,
  output,
  positiveInt,
  resourceTypes,
  table,
} from './options.js';

// Commands on a whole store: copy it to PostgreSQL, seed it for a load test, print an account's audit log.

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

/** `rshare migrate-store`: every row of an embedded SQLite store into an empty PostgreSQL database. */
export function migrateStoreCommand(program: Command): void {
  program
    .command('migrate-store')
    .description('copy every row of an embedded SQLite store into an empty PostgreSQL database')
    .requiredOption('--from <path>', 'SQLite file of the embedded store (stop the server first)')
    .requiredOption('--to <url>', 'postgres:// URL of the target database (migrated, must hold no data)')
    .option('--json', 'print JSON instead of text')
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      const { copyStore } = await import('../adapters/copy.js');
      const counts = await copyStore(opts.from, opts.to);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      output({ database: opts.to, json: opts.json }, counts, () =>
        [
          `Copied ${total} rows from ${opts.from} to PostgreSQL:`,
          ...Object.entries(counts).map(([name, n]) => `  ${name.padEnd(26)} ${n}`),
        ].join('\n'),
      );
    });
}

/** `rshare seed`: load-test data in an empty store, and a token to use it. */
export function seedCommand(program: Command): void {
  admin(
    program.command('seed').description('fill an empty store with load-test data and print a token for it'),
  )
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
      const { seedStore } = await import('../emulator/seed/service.js');
      const { openStore } = await import('../adapters/open.js');
      const started = performance.now();
      // Bulk statements of a large seed run far longer than a request may.
      const store = await openStore(opts.database, {
        poolSize: 2,
        queryTimeoutMs: 0,
        pgPooler: opts.pgPooler,
      });
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
}

/** `rshare audit`: an account's audit log, through the API's own pages. */
export function auditCommand(program: Command): void {
  admin(program.command('audit').description("print an account's audit log, newest first"))
    .requiredOption('--account <id>', 'account whose log to print')
    .option('--since <time>', 'entries at or after this date or RFC 3339 time (default: 18 months ago)')
    .option('--before <time>', 'entries before this date or RFC 3339 time (default: a day from now)')
    .option('--limit <n>', 'at most this many entries', positiveInt, 100)
    .action(
      async (opts: AdminOptions & { account: string; since?: string; before?: string; limit: number }) => {
        const { openStore } = await import('../adapters/open.js');
        const { AuditService } = await import('../cloudflare/audit/service.js');
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
}
