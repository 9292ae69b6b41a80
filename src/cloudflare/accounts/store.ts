/** An account as the accounts list shows it, with its organization's name. */
export interface ScopedAccountRow {
  id: string;
  name: string;
  organization_id: string | null;
  organization_name: string | null;
  created: string;
}

/** Whose scope: a user (email + global key) or an API token. */
export interface ScopeOwner {
  kind: 'user' | 'token';
  id: string;
}

export interface AccountListQuery {
  /** Case-insensitive substring of the account name. */
  name?: string;
  direction: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export interface AccountsStore {
  /**
   * The accounts in a user's or token's scope (its accounts and every member of its organizations), by
   * name then id, one page at a time: paging, filtering and counting happen in SQL, so an organization of
   * 20,000 accounts never reaches the process whole.
   */
  listInScope(
    owner: ScopeOwner,
    query: AccountListQuery,
  ): Promise<{ rows: ScopedAccountRow[]; total: number }>;
}

/** The link tables of each kind of scope owner (constant names, never caller input). */
export const SCOPE_TABLES = {
  user: { accounts: 'user_accounts', organizations: 'user_organizations', key: 'user_id' },
  token: { accounts: 'token_accounts', organizations: 'token_organizations', key: 'token_id' },
} as const;
