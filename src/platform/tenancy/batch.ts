import type {
  AccountRow,
  BatchSummary,
  Change,
  OrganizationRow,
  TenancyBatch,
  TenancyWrites,
  TokenRow,
  UserRow,
} from './store.js';

/** What the stored rows of a batch look like now (only rows the batch names). */
export interface Existing {
  organizations: ReadonlyMap<string, OrganizationRow>;
  accounts: ReadonlyMap<string, AccountRow>;
  /** By email. */
  users: ReadonlyMap<string, UserRow>;
  /** By secret digest: a token's id says nothing about its value, so the value is the only key. */
  tokens: ReadonlyMap<string, TokenRow>;
}

/** Scope rows to add and remove, so an unchanged scope costs nothing and a re-scope only its difference. */
export interface ScopeDiff {
  addAccounts: string[];
  removeAccounts: string[];
  addOrganizations: string[];
  removeOrganizations: string[];
}

export interface PrincipalWrite<T> extends ScopeDiff {
  row: T;
  /** The row itself (not only its scope) must be written. */
  writeRow: boolean;
}

/** The writes that bring the store to a batch, computed from what is stored. */
export interface BatchPlan {
  summary: BatchSummary;
  organizations: OrganizationRow[];
  accounts: AccountRow[];
  /** Organizations an account joined or left: their organization-wide shares must be re-derived. */
  organizationWork: string[];
  /** Accounts that left an organization: its sync disassociates them from its account-targeted shares. */
  departures: { organization_id: string; account_id: string }[];
  /** Accounts whose entitlements changed: their terminal errors are cleared and recipients reconciled. */
  entitlementsChanged: string[];
  users: PrincipalWrite<UserRow>[];
  tokens: PrincipalWrite<TokenRow>[];
  /** Each changed account, user and token before and after, for the batch's audit entries. */
  written: Omit<TenancyWrites, 'organizationOf'>;
}

function counter(): Record<Change, number> {
  return { created: 0, updated: 0, unchanged: 0 };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  return a === null || b === null ? a === b : sameSet(a, b);
}

function difference(a: readonly string[], b: readonly string[]): string[] {
  const sb = new Set(b);
  return [...new Set(a)].filter((x) => !sb.has(x));
}

function scopeDiff(before: UserRow | TokenRow | undefined, after: UserRow | TokenRow): ScopeDiff {
  const accounts = before?.accounts ?? [];
  const organizations = before?.organizations ?? [];
  return {
    addAccounts: difference(after.accounts, accounts),
    removeAccounts: difference(accounts, after.accounts),
    addOrganizations: difference(after.organizations, organizations),
    removeOrganizations: difference(organizations, after.organizations),
  };
}

function scopeChanged(d: ScopeDiff): boolean {
  return (
    d.addAccounts.length +
      d.removeAccounts.length +
      d.addOrganizations.length +
      d.removeOrganizations.length >
    0
  );
}

/** Same comparisons as the single-row `put*` operations of `TenancyService`. */
export function planBatch(batch: TenancyBatch, existing: Existing): BatchPlan {
  const summary: BatchSummary = {
    organizations: counter(),
    accounts: counter(),
    users: counter(),
    tokens: counter(),
  };
  const plan: BatchPlan = {
    summary,
    organizations: [],
    accounts: [],
    organizationWork: [],
    departures: [],
    entitlementsChanged: [],
    users: [],
    tokens: [],
    written: { accounts: [], users: [], tokens: [] },
  };
  const now = batch.now;

  for (const o of batch.organizations) {
    const before = existing.organizations.get(o.id);
    if (before && before.name === o.name) {
      summary.organizations.unchanged++;
      continue;
    }
    summary.organizations[before ? 'updated' : 'created']++;
    plan.organizations.push({ id: o.id, name: o.name, created: before?.created ?? now, modified: now });
  }

  const work = new Set<string>();
  for (const a of batch.accounts) {
    const before = existing.accounts.get(a.id);
    if (
      before &&
      before.name === a.name &&
      before.organization_id === a.organization_id &&
      sameList(before.entitlements, a.entitlements)
    ) {
      summary.accounts.unchanged++;
      continue;
    }
    summary.accounts[before ? 'updated' : 'created']++;
    const after: AccountRow = { ...a, created: before?.created ?? now, modified: now };
    plan.accounts.push(after);
    plan.written.accounts.push({ before, after });
    if (!before || before.organization_id !== a.organization_id) {
      if (before?.organization_id) {
        work.add(before.organization_id);
        plan.departures.push({ organization_id: before.organization_id, account_id: a.id });
      }
      if (a.organization_id) work.add(a.organization_id);
    }
    if (before && !sameList(before.entitlements, a.entitlements)) plan.entitlementsChanged.push(a.id);
  }
  plan.organizationWork = [...work];

  for (const u of batch.users) {
    const before = existing.users.get(u.email);
    const row: UserRow = { ...u, id: before?.id ?? u.id, created: before?.created ?? now };
    const diff = scopeDiff(before, row);
    const writeRow = !before || before.api_key_hash !== row.api_key_hash;
    if (!writeRow && !scopeChanged(diff)) {
      summary.users.unchanged++;
      continue;
    }
    summary.users[before ? 'updated' : 'created']++;
    plan.users.push({ row, writeRow, ...diff });
    plan.written.users.push({ before, after: row });
  }

  for (const t of batch.tokens) {
    const before = existing.tokens.get(t.secret_hash);
    const row: TokenRow = { ...t, id: before?.id ?? t.id, created: before?.created ?? now };
    const diff = scopeDiff(before, row);
    const writeRow =
      !before ||
      before.name !== row.name ||
      before.can_edit !== row.can_edit ||
      before.status !== row.status ||
      before.expires_on !== row.expires_on;
    if (!writeRow && !scopeChanged(diff)) {
      summary.tokens.unchanged++;
      continue;
    }
    summary.tokens[before ? 'updated' : 'created']++;
    plan.tokens.push({ row, writeRow, ...diff });
    plan.written.tokens.push({ before, after: row });
  }
  return plan;
}
