import { isDeepStrictEqual } from 'node:util';
import { auditEntry, CLI_ACTOR, type AuditEntry } from '../audit/entry.js';
import type { AccountRow, TenancyWrites, TokenRow, UserRow, Written } from './store.js';

/*
 * Audit entries of tenancy changes (CLI commands, bootstrap files, the demo seed), all made by the operator
 * (`CLI_ACTOR`). An entry lives in one account's log, so:
 * - an account's change goes to its own log;
 * - a user's or token's change goes to the log of each account its scope names directly, before or after;
 * - organizations, and scopes that name only organizations, have no account log to go to: not recorded.
 * Values hold ids, names, emails, permissions, status, expiry and scope ids, never a secret or its digest.
 */

/** What a tenancy write changed, before the store adds the organizations of the accounts it names. */
export type TenancyChanges = Partial<Omit<TenancyWrites, 'organizationOf'>>;

/** Every account a write's users and tokens name, before or after: the audit needs their organizations. */
export function accountsNamed(changed: TenancyChanges): string[] {
  const ids = new Set<string>();
  for (const { before, after } of [...(changed.users ?? []), ...(changed.tokens ?? [])]) {
    for (const id of before?.accounts ?? []) ids.add(id);
    for (const id of after.accounts) ids.add(id);
  }
  return [...ids];
}

/** The write's changes with the organizations (as now stored) of the accounts they name. */
export function withOrganizations(
  changed: TenancyChanges,
  organizationOf: ReadonlyMap<string, string | null>,
): TenancyWrites {
  return {
    accounts: changed.accounts ?? [],
    users: changed.users ?? [],
    tokens: changed.tokens ?? [],
    organizationOf,
  };
}

export function tenancyAudit(time: string, writes: TenancyWrites): AuditEntry[] {
  return [
    ...writes.accounts.flatMap((w) => accountEntries(time, w)),
    ...writes.users.flatMap((w) =>
      principalEntries(time, w, writes.organizationOf, {
        type: 'user',
        name: 'user',
        value: (u: UserRow) => ({ email: u.email }),
        secretChanged: (b, a) => b.api_key_hash !== a.api_key_hash,
        secretField: 'api_key_changed',
      }),
    ),
    ...writes.tokens.flatMap((w) =>
      principalEntries(time, w, writes.organizationOf, {
        type: 'api_token',
        name: 'API token',
        value: (t: TokenRow) => ({
          name: t.name,
          status: t.status,
          permissions: t.can_edit ? ['read', 'edit'] : ['read'],
          expires_on: t.expires_on,
        }),
        secretChanged: (b, a) => b.secret_hash !== a.secret_hash,
        secretField: 'value_changed',
      }),
    ),
  ];
}

const accountValue = (a: AccountRow) => ({
  name: a.name,
  organization_id: a.organization_id,
  entitlements: a.entitlements,
});

function sameEntitlements(a: AccountRow['entitlements'], b: AccountRow['entitlements']): boolean {
  if (a === null || b === null) return a === b;
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((t) => sa.has(t));
}

function accountEntries(time: string, { before, after }: Written<AccountRow>): AuditEntry[] {
  if (
    before &&
    before.name === after.name &&
    before.organization_id === after.organization_id &&
    sameEntitlements(before.entitlements, after.entitlements)
  ) {
    return [];
  }
  const moved = before !== undefined && before.organization_id !== after.organization_id;
  return [
    auditEntry(CLI_ACTOR, time, {
      account: after,
      action: before ? 'update' : 'create',
      description: !before ? 'Create account' : moved ? 'Move account' : 'Update account',
      resource: { type: 'account', id: after.id },
      old: before ? accountValue(before) : null,
      new: accountValue(after),
    }),
  ];
}

interface PrincipalKind<T> {
  type: 'user' | 'api_token';
  name: string;
  /** The fields that are not scope. */
  value: (row: T) => Record<string, unknown>;
  secretChanged: (before: T, after: T) => boolean;
  /** Metadata flag of a new key or value: the change has no other visible trace. */
  secretField: string;
}

function principalEntries<T extends UserRow | TokenRow>(
  time: string,
  { before, after }: Written<T>,
  organizationOf: ReadonlyMap<string, string | null>,
  kind: PrincipalKind<T>,
): AuditEntry[] {
  // Each account's log sees the scope as it concerns that account: whether it names the account and the
  // account's organization. No log lists other tenants, and a token over 20,000 accounts stays small.
  const viewOf = (row: T) => {
    const fields = kind.value(row);
    const scope = new Set(row.accounts);
    return (accountId: string, org: string | null) => ({
      ...fields,
      accounts: scope.has(accountId) ? [accountId] : [],
      organizations: org !== null && row.organizations.includes(org) ? [org] : [],
    });
  };
  const oldView = before && viewOf(before);
  const newView = viewOf(after);
  const secret = before !== undefined && kind.secretChanged(before, after);
  const entries: AuditEntry[] = [];
  for (const accountId of new Set([...(before?.accounts ?? []), ...after.accounts])) {
    const org = organizationOf.get(accountId) ?? null;
    const old = oldView ? oldView(accountId, org) : null;
    const now = newView(accountId, org);
    // An account whose view did not change hears only of a new secret.
    if (old && isDeepStrictEqual(old, now) && !secret) continue;
    entries.push(
      auditEntry(CLI_ACTOR, time, {
        account: { id: accountId, organization_id: org },
        action: before ? 'update' : 'create',
        description: `${before ? 'Update' : 'Create'} ${kind.name}`,
        resource: { type: kind.type, id: after.id },
        old,
        new: now,
        metadata: secret ? { [kind.secretField]: true } : null,
      }),
    );
  }
  return entries;
}
