import { writeFileSync } from 'node:fs';

/** Readable fixed ids: a 2-character prefix and a hex counter, 32 characters in all. */
export const benchId = (prefix: string, n: number): string => prefix + n.toString(16).padStart(30, '0');

export const TOKEN = 'rshare-bench-owner-edit-token-000001';

export interface BenchOrg {
  id: string;
  owner: string;
  recipients: string[];
}

/** An organization with an owner account and `size` other member accounts. */
export function benchOrg(tag: string, size: number): BenchOrg {
  return {
    id: benchId(`${tag}0`.slice(0, 2), 1),
    owner: benchId(`${tag}1`.slice(0, 2), 0),
    recipients: Array.from({ length: size }, (_, i) => benchId(`${tag}2`.slice(0, 2), i + 1)),
  };
}

/** Writes a bootstrap file: the organizations, their accounts, one edit token for every owner and org. */
export function writeBootstrap(path: string, orgs: BenchOrg[]): void {
  writeFileSync(
    path,
    JSON.stringify({
      organizations: orgs.map((o, i) => ({ id: o.id, name: `Bench org ${i}` })),
      accounts: orgs.flatMap((o) =>
        [o.owner, ...o.recipients].map((a, i) => ({ id: a, name: `Account ${i}`, organization_id: o.id })),
      ),
      tokens: [
        {
          value: TOKEN,
          name: 'bench owners (edit)',
          accounts: orgs.map((o) => o.owner),
          organizations: orgs.map((o) => o.id),
          permissions: ['read', 'edit'],
        },
      ],
    }),
  );
}

/** A share create body: `resources` owner resources, to the listed accounts or the whole organization. */
export function shareBody(
  org: BenchOrg,
  name: string,
  target: { accounts: string[] } | 'organization',
  resources = 1,
): unknown {
  return {
    name,
    recipients:
      target === 'organization'
        ? [{ organization_id: org.id }]
        : target.accounts.map((a) => ({ recipient_account_id: a })),
    resources: Array.from({ length: resources }, (_, i) => ({
      resource_id: benchId('e0', i + 1),
      resource_type: 'custom-ruleset',
      resource_account_id: org.owner,
      meta: { description: `bench resource ${i + 1}`, priority: i },
    })),
    tags: { env: 'bench', team: 'platform' },
  };
}
