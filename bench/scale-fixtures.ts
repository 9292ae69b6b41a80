/**
 * The tenancy of the scale run's second server: one organization of 20,000 accounts, one of 3, and the
 * credentials whose scope size is what part 2 compares (a token over 1 account, a token over all 20,000,
 * a user holding all 20,000), plus an owners' token for the creates, lists and fan-outs.
 */
import { writeFileSync } from 'node:fs';
import { benchOrg, shareBody, type BenchOrg } from './fixtures.js';

export interface Tenancy {
  /** The large organization: an owner and `accounts - 1` other members. */
  big: BenchOrg;
  /** The 3-account organization: an owner and two members. */
  small: BenchOrg;
  tokens: { one: string; all: string; owners: string };
  user: { email: string; key: string };
}

export function writeTenancyBootstrap(path: string, accounts: number): Tenancy {
  // Tags must keep ids hex: 'd' and 'f' prefixes stay clear of run.ts's a/b/c and the resources' e0/e1.
  const big = benchOrg('d', accounts - 1);
  const small = benchOrg('f', 2);
  const t: Tenancy = {
    big,
    small,
    tokens: {
      one: 'rshare-bench-scale-one-account-000001',
      all: 'rshare-bench-scale-all-accounts-00001',
      owners: 'rshare-bench-scale-owners-edit-000001',
    },
    user: { email: 'bench-scale@example.com', key: 'rshare-bench-scale-global-key-000001' },
  };
  const bigAccounts = [big.owner, ...big.recipients];
  const token = (value: string, name: string, accounts: string[], organizations: string[]) => ({
    value,
    name,
    accounts,
    organizations,
    permissions: ['read', 'edit'],
  });
  writeFileSync(
    path,
    JSON.stringify({
      organizations: [
        { id: big.id, name: `Bench org of ${accounts} accounts` },
        { id: small.id, name: 'Bench org of 3 accounts' },
      ],
      accounts: [big, small].flatMap((o) =>
        [o.owner, ...o.recipients].map((a, i) => ({ id: a, name: `Account ${i}`, organization_id: o.id })),
      ),
      users: [{ email: t.user.email, api_key: t.user.key, accounts: bigAccounts, organizations: [big.id] }],
      tokens: [
        token(t.tokens.one, 'one account', [big.owner], []),
        token(t.tokens.all, `all ${accounts} accounts`, bigAccounts, [big.id]),
        token(t.tokens.owners, 'owners', [big.owner, small.owner, ...small.recipients], [big.id, small.id]),
      ],
    }),
  );
  return t;
}

/** A create to one member account of `org` (the tenancy and throughput creates). */
export const oneRecipientBody = (org: BenchOrg, recipient: string): string =>
  JSON.stringify(shareBody(org, 'scale create', { accounts: [recipient] }));
