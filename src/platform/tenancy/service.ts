import type { Clock } from '../../lib/clock.js';
import { timeOrderedIds, type IdSource, newSecret } from '../../lib/ids.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../resource-types/registry.js';
import { hashSecret } from '../../lib/secrets.js';
import { TenancyChecks } from './checks.js';
import {
  accountIdIssues,
  entitlementIssues,
  fail,
  type AccountInput,
  type Issue,
  type OrganizationInput,
  type Pending,
  type TokenInput,
  type UserInput,
} from './inputs.js';
import { accountFields, sameList, sameSet, tokenFields, unique } from './rows.js';
import type {
  AccountRow,
  BatchSummary,
  Change,
  OrganizationRow,
  TenancyStore,
  TokenRow,
  UserRow,
} from './store.js';

export type { BatchSummary, Change } from './store.js';
export interface Put<T> {
  row: T;
  change: Change;
}

/**
 * Administrative operations on organizations, accounts, users and tokens, for the CLI, bootstrap files
 * and the demo seed. `create*` refuses to overwrite; `put*` upserts idempotently and reports what changed.
 * Every change is audited as the operator's (`CLI_ACTOR`, see ./audit.ts), in the change's transaction.
 */
export class TenancyService {
  /** The checks of inputs (`*Issues`); bootstrap files run them on a whole file before `putBatch`. */
  private readonly checks: TenancyChecks;

  constructor(
    private readonly store: TenancyStore,
    private readonly clock: Clock,
    private readonly ids: IdSource = timeOrderedIds,
    /** The entitlements an account may hold are the server's resource types' (bootstrap reads it too). */
    readonly resourceTypes: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  ) {
    this.checks = new TenancyChecks(store, resourceTypes);
  }

  listOrganizations(): Promise<OrganizationRow[]> {
    return this.store.listOrganizations();
  }

  listAccounts(organizationId?: string): Promise<AccountRow[]> {
    return this.store.listAccounts(organizationId);
  }

  listUsers(): Promise<UserRow[]> {
    return this.store.listUsers();
  }

  listTokens(): Promise<TokenRow[]> {
    return this.store.listTokens();
  }

  // Organizations

  organizationIssues(input: OrganizationInput, mode: 'create' | 'put'): Promise<Issue[]> {
    return this.checks.organizationIssues(input, mode);
  }

  async createOrganization(input: OrganizationInput): Promise<OrganizationRow> {
    const issues = await this.organizationIssues(input, 'create');
    if (issues.length > 0) fail('invalid organization', issues);
    const now = this.clock.timestamp();
    const row: OrganizationRow = {
      id: input.id ?? this.ids.next(),
      name: input.name,
      created: now,
      modified: now,
    };
    // No audit entry: an organization has no account log to hold one (see ./audit.ts).
    await this.store.upsertOrganization(row);
    return row;
  }

  async putOrganization(input: OrganizationInput & { id: string }): Promise<Put<OrganizationRow>> {
    const issues = await this.organizationIssues(input, 'put');
    if (issues.length > 0) fail('invalid organization', issues);
    const existing = await this.store.getOrganization(input.id);
    if (existing && existing.name === input.name) return { row: existing, change: 'unchanged' };
    const now = this.clock.timestamp();
    const row: OrganizationRow = {
      id: input.id,
      name: input.name,
      created: existing?.created ?? now,
      modified: now,
    };
    await this.store.upsertOrganization(row);
    return { row, change: existing ? 'updated' : 'created' };
  }

  // Accounts

  accountIssues(input: AccountInput, mode: 'create' | 'put', pending: Pending = {}): Promise<Issue[]> {
    return this.checks.accountIssues(input, mode, pending);
  }

  async createAccount(input: AccountInput): Promise<AccountRow> {
    const issues = await this.accountIssues(input, 'create');
    if (issues.length > 0) fail('invalid account', issues);
    const now = this.clock.timestamp();
    const row: AccountRow = {
      ...accountFields(this.resourceTypes, input),
      id: input.id ?? this.ids.next(),
      created: now,
      modified: now,
    };
    await this.store.upsertAccount(row, now);
    return row;
  }

  async putAccount(input: AccountInput & { id: string }): Promise<Put<AccountRow>> {
    const issues = await this.accountIssues(input, 'put');
    if (issues.length > 0) fail('invalid account', issues);
    const fields = accountFields(this.resourceTypes, input);
    const existing = await this.store.getAccount(input.id);
    if (
      existing &&
      existing.name === fields.name &&
      existing.organization_id === fields.organization_id &&
      sameList(existing.entitlements, fields.entitlements)
    ) {
      return { row: existing, change: 'unchanged' };
    }
    const now = this.clock.timestamp();
    const row: AccountRow = { ...fields, id: input.id, created: existing?.created ?? now, modified: now };
    await this.store.upsertAccount(row, now);
    return { row, change: existing ? 'updated' : 'created' };
  }

  /**
   * Moves an account into another organization, or out of any with null. The reconciler then re-derives
   * both organizations' organization-wide shares: the account stops receiving the old one's and starts
   * receiving the new one's.
   */
  async moveAccount(id: string, organizationId: string | null): Promise<Put<AccountRow>> {
    const issues = [...accountIdIssues(id), ...(await this.checks.organizationIdIssues(organizationId, {}))];
    if (issues.length > 0) fail('invalid account', issues);
    const existing = await this.existingAccount(id);
    if (existing.organization_id === organizationId) return { row: existing, change: 'unchanged' };
    return this.updateAccount({ ...existing, organization_id: organizationId });
  }

  /**
   * Sets the resource types an account may receive (null: every type). Its recipients are reconciled
   * again: resources it lost the entitlement for are removed, and ones it gained are applied.
   */
  async setEntitlements(id: string, types: readonly string[] | null): Promise<Put<AccountRow>> {
    const issues = [...accountIdIssues(id), ...entitlementIssues(this.resourceTypes, types)];
    if (issues.length > 0) fail('invalid account', issues);
    const existing = await this.existingAccount(id);
    const entitlements = accountFields(this.resourceTypes, {
      name: existing.name,
      entitlements: types,
    }).entitlements;
    if (sameList(existing.entitlements, entitlements)) return { row: existing, change: 'unchanged' };
    return this.updateAccount({ ...existing, entitlements });
  }

  private async existingAccount(id: string): Promise<AccountRow> {
    const existing = await this.store.getAccount(id);
    if (!existing) throw new Error(`unknown account ${id}`);
    return existing;
  }

  private async updateAccount(row: AccountRow): Promise<Put<AccountRow>> {
    const updated: AccountRow = { ...row, modified: this.clock.timestamp() };
    await this.store.upsertAccount(updated, updated.modified);
    return { row: updated, change: 'updated' };
  }

  // Users

  userIssues(input: UserInput, mode: 'create' | 'put', pending: Pending = {}): Promise<Issue[]> {
    return this.checks.userIssues(input, mode, pending);
  }

  /** Creates a user with a global API key; the key is returned once and only its digest is stored. */
  async createUser(input: UserInput): Promise<{ user: UserRow; apiKey: string }> {
    const issues = await this.userIssues(input, 'create');
    if (issues.length > 0) fail('invalid user', issues);
    const apiKey = input.api_key ?? newSecret();
    const user: UserRow = {
      id: this.ids.next(),
      email: input.email,
      api_key_hash: hashSecret(apiKey),
      accounts: unique(input.accounts),
      organizations: unique(input.organizations),
      created: this.clock.timestamp(),
    };
    await this.store.upsertUser(user, user.created);
    return { user, apiKey };
  }

  /** Upserts by email. */
  async putUser(input: UserInput & { api_key: string }): Promise<Put<UserRow>> {
    const issues = await this.userIssues(input, 'put');
    if (issues.length > 0) fail('invalid user', issues);
    const existing = await this.store.findUserByEmail(input.email);
    const row: UserRow = {
      id: existing?.id ?? this.ids.next(),
      email: input.email,
      api_key_hash: hashSecret(input.api_key),
      accounts: unique(input.accounts),
      organizations: unique(input.organizations),
      created: existing?.created ?? this.clock.timestamp(),
    };
    if (
      existing &&
      existing.api_key_hash === row.api_key_hash &&
      sameSet(existing.accounts, row.accounts) &&
      sameSet(existing.organizations, row.organizations)
    ) {
      return { row: existing, change: 'unchanged' };
    }
    await this.store.upsertUser(row, this.clock.timestamp());
    return { row, change: existing ? 'updated' : 'created' };
  }

  // Tokens

  tokenIssues(input: TokenInput, mode: 'create' | 'put', pending: Pending = {}): Promise<Issue[]> {
    return this.checks.tokenIssues(input, mode, pending);
  }

  /** Creates an API token; the value is returned once and only its digest is stored. */
  async createToken(input: TokenInput): Promise<{ token: TokenRow; value: string }> {
    const issues = await this.tokenIssues(input, 'create');
    if (issues.length > 0) fail('invalid token', issues);
    const value = input.value ?? newSecret();
    const token: TokenRow = {
      ...tokenFields(input, value),
      id: this.ids.next(),
      created: this.clock.timestamp(),
    };
    await this.store.upsertToken(token, token.created);
    return { token, value };
  }

  /**
   * Upserts by value: the token holding it keeps its id, a new one gets a random id. Ids are never derived
   * from the value, since they are public (audit entries) and would let anyone test guesses offline; and
   * random rather than keyed by a per-store secret, which every store copy and state export would have to
   * carry or leave out.
   */
  async putToken(input: TokenInput & { value: string }): Promise<Put<TokenRow>> {
    const issues = await this.tokenIssues(input, 'put');
    if (issues.length > 0) fail('invalid token', issues);
    const fields = tokenFields(input, input.value);
    const existing = await this.store.findTokenByHash(fields.secret_hash);
    const row: TokenRow = {
      ...fields,
      id: existing?.id ?? this.ids.next(),
      created: existing?.created ?? this.clock.timestamp(),
    };
    if (
      existing &&
      existing.name === row.name &&
      existing.can_edit === row.can_edit &&
      existing.status === row.status &&
      existing.expires_on === row.expires_on &&
      sameSet(existing.accounts, row.accounts) &&
      sameSet(existing.organizations, row.organizations)
    ) {
      return { row: existing, change: 'unchanged' };
    }
    await this.store.upsertToken(row, this.clock.timestamp());
    return { row, change: existing ? 'updated' : 'created' };
  }

  /**
   * Upserts checked inputs (see `*Issues`) in one store transaction, as the `put*` operations would one by
   * one: rows already as given are left alone. Bootstrap files use it, whatever their size.
   */
  async putBatch(input: {
    organizations: readonly (OrganizationInput & { id: string })[];
    accounts: readonly (AccountInput & { id: string })[];
    users: readonly (UserInput & { api_key: string })[];
    tokens: readonly (TokenInput & { value: string })[];
  }): Promise<BatchSummary> {
    const now = this.clock.timestamp();
    return this.store.applyBatch(
      {
        organizations: input.organizations.map((o) => ({ id: o.id, name: o.name })),
        accounts: input.accounts.map((a) => ({ ...accountFields(this.resourceTypes, a), id: a.id })),
        users: input.users.map((u) => ({
          id: this.ids.next(),
          email: u.email,
          api_key_hash: hashSecret(u.api_key),
          accounts: unique(u.accounts),
          organizations: unique(u.organizations),
        })),
        // Used only for values the store does not hold yet (see `TenancyBatch`).
        tokens: input.tokens.map((t) => ({ ...tokenFields(t, t.value), id: this.ids.next() })),
        now,
      },
      // Organizations are written too, without entries (see ./audit.ts).
      now,
    );
  }
}
