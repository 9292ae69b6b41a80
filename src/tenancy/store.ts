import type { ResourceType } from '../http/common-schemas.js';

export interface OrganizationRow {
  id: string;
  name: string;
  created: string;
  modified: string;
}

export interface AccountRow {
  id: string;
  name: string;
  organization_id: string | null;
  /** Resource types the account may receive; null means every type. */
  entitlements: ResourceType[] | null;
  created: string;
  modified: string;
}

export interface Scope {
  accounts: string[];
  organizations: string[];
}

export interface UserRow extends Scope {
  id: string;
  email: string;
  api_key_hash: string;
  created: string;
}

export interface TokenRow extends Scope {
  id: string;
  name: string;
  secret_hash: string;
  can_edit: boolean;
  status: 'active' | 'disabled';
  expires_on: string | null;
  created: string;
}

export interface TenancyStore {
  getOrganization(id: string): Promise<OrganizationRow | undefined>;
  listOrganizations(): Promise<OrganizationRow[]>;
  upsertOrganization(row: OrganizationRow): Promise<void>;

  getAccount(id: string): Promise<AccountRow | undefined>;
  listAccounts(organizationId?: string): Promise<AccountRow[]>;
  upsertAccount(row: AccountRow): Promise<void>;
  /** Ids of every account of an organization, oldest first. */
  organizationAccountIds(organizationId: string): Promise<string[]>;

  findUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;
  /** Inserts or replaces the user with this email, including its scope. */
  upsertUser(row: UserRow): Promise<void>;

  findTokenByHash(secretHash: string): Promise<TokenRow | undefined>;
  getToken(id: string): Promise<TokenRow | undefined>;
  listTokens(): Promise<TokenRow[]>;
  /** Inserts or replaces the token with this id, including its scope. */
  upsertToken(row: TokenRow): Promise<void>;
}
