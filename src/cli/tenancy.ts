import type { Command } from 'commander';
import { openAdminTenancyStore } from '../adapters/admin-store.js';
import { systemClock } from '../lib/clock.js';
import { TenancyService } from '../platform/tenancy/service.js';
import { toPublicToken, toPublicUser } from '../platform/tenancy/rows.js';
import type { AccountRow, OrganizationRow, TokenRow, UserRow } from '../platform/tenancy/store.js';
import { admin, type AdminOptions, commaList, idList, output, resourceTypes, table } from './options.js';

// `rshare org|account|user|token`: the tenancy an operator manages, each change audited as the CLI's.

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

/** `rshare org`, `account`, `user` and `token`, in the order `--help` lists them. */
export function tenancyCommands(program: Command): void {
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
    .option(
      '--entitlements <types>',
      'comma-separated resource types it may receive (default: all)',
      commaList,
    )
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
  admin(
    account.command('move').description('move an account to another organization (or out, with --no-org)'),
  )
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
}
