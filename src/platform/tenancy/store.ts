import type { AuditEntry } from '../audit/entry.js';
import type { ResourceType } from '../../http/common-schemas.js';

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

/** The one account or organization a request names, checked against the caller's scope. */
export type ScopeTarget = { account: string } | { organization: string } | null;

/** A token without its scope, and whether its scope covers the request's target. */
export interface TokenCredential extends Omit<TokenRow, keyof Scope> {
  in_scope: boolean;
  /** The account the target names, read in the same query so the request never looks it up again. */
  account?: AccountRow;
}

/** A user without its scope, and whether its scope covers the request's target. */
export interface UserCredential extends Omit<UserRow, keyof Scope> {
  in_scope: boolean;
  /** As `TokenCredential.account`. */
  account?: AccountRow;
}

/** Desired tenancy for `applyBatch` (a bootstrap file), already validated. */
export interface TenancyBatch {
  organizations: Pick<OrganizationRow, 'id' | 'name'>[];
  accounts: Omit<AccountRow, 'created' | 'modified'>[];
  /** `id` is used only when the email is new. */
  users: Omit<UserRow, 'created'>[];
  /** Keyed on `secret_hash`: `id` is used only when no stored token has that digest. */
  tokens: Omit<TokenRow, 'created'>[];
  /** `created`/`modified` of new and changed rows. */
  now: string;
}

export type Change = 'created' | 'updated' | 'unchanged';

/** A row as stored before a write (undefined: the write created it) and as the write left it. */
export interface Written<T> {
  before: T | undefined;
  after: T;
}

/**
 * What one tenancy write changed, read inside its transaction (the old values are the ones the transaction
 * replaced, not ones read before it), from which the pure `tenancyAudit` builds the write's audit entries.
 * Unchanged rows are not listed.
 */
export interface TenancyWrites {
  accounts: Written<AccountRow>[];
  users: Written<UserRow>[];
  tokens: Written<TokenRow>[];
  /** The organization (as now stored) of every account a written user's or token's scope named or names. */
  organizationOf: ReadonlyMap<string, string | null>;
}
export type BatchSummary = Record<'organizations' | 'accounts' | 'users' | 'tokens', Record<Change, number>>;

/**
 * Every method that changes something takes the audit entries describing the change, or `auditAt`: the time
 * at which the operator's change is audited. The store then records `tenancyAudit(auditAt, writes)` (a pure
 * function of what the write replaced and wrote, ./audit.ts) in the same transaction. No audit when absent.
 */
export interface TenancyStore {
  getOrganization(id: string): Promise<OrganizationRow | undefined>;
  listOrganizations(): Promise<OrganizationRow[]>;
  upsertOrganization(row: OrganizationRow, audit?: readonly AuditEntry[]): Promise<void>;

  getAccount(id: string): Promise<AccountRow | undefined>;
  listAccounts(organizationId?: string): Promise<AccountRow[]>;
  upsertAccount(row: AccountRow, auditAt?: string): Promise<void>;
  /** Which of `accountIds` belong to the organization (one indexed query, whatever its size). */
  organizationMembers(organizationId: string, accountIds: readonly string[]): Promise<Set<string>>;

  findUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;
  /** Inserts or replaces the user with this email, including its scope. */
  upsertUser(row: UserRow, auditAt?: string): Promise<void>;

  /**
   * What authentication needs, in one query: the user with this email and whether its scope holds
   * `target` (null: no target, `in_scope` false). The scope itself is not loaded.
   */
  findUserCredential(email: string, target: ScopeTarget): Promise<UserCredential | undefined>;

  findTokenByHash(secretHash: string): Promise<TokenRow | undefined>;
  /** As `findUserCredential`, for the token with this secret digest. */
  findTokenCredential(secretHash: string, target: ScopeTarget): Promise<TokenCredential | undefined>;
  getToken(id: string): Promise<TokenRow | undefined>;
  listTokens(): Promise<TokenRow[]>;
  /** Inserts or replaces the token with this id, including its scope. */
  upsertToken(row: TokenRow, auditAt?: string): Promise<void>;

  /**
   * Upserts a whole batch in one transaction (serialized against other batches, on any node): rows equal
   * to the stored ones are left alone, scopes are changed by difference, and reconciler work is queued
   * once per affected organization. Reports per kind what was created, updated or left unchanged.
   */
  applyBatch(batch: TenancyBatch, auditAt?: string): Promise<BatchSummary>;
}
