import type { Clock } from '../../lib/clock.js';
import { isEmailAddress, MAX_SECRET_LENGTH, SECRET_CHARACTERS } from '../../lib/credential-shapes.js';
import { isId, randomIds, type IdSource, newSecret } from '../../lib/ids.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../resource-types/registry.js';
import { hashSecret } from '../../lib/secrets.js';
import type {
  AccountRow,
  BatchSummary,
  Change,
  OrganizationRow,
  TenancyStore,
  TokenRow,
  UserRow,
} from './store.js';

export type Permission = 'read' | 'edit';
export type TokenStatus = TokenRow['status'];

export interface OrganizationInput {
  id?: string;
  name: string;
}

export interface AccountInput {
  id?: string;
  name: string;
  organization_id?: string | null;
  /** Omitted or null: the account may receive every resource type. */
  entitlements?: readonly string[] | null;
}

export interface UserInput {
  email: string;
  api_key?: string;
  accounts: readonly string[];
  organizations: readonly string[];
}

export interface TokenInput {
  name: string;
  value?: string;
  accounts: readonly string[];
  organizations: readonly string[];
  permissions: readonly string[];
  status?: TokenStatus;
  expires_on?: string | null;
}

/** One problem with an input; `path` names the field, e.g. `accounts[2]`. */
export interface Issue {
  path: string;
  message: string;
}

/** Ids that do not exist yet but will by the time the checked input is written (bootstrap files). */
export interface Pending {
  organizations?: ReadonlySet<string>;
  accounts?: ReadonlySet<string>;
}

export type { BatchSummary, Change } from './store.js';
export interface Put<T> {
  row: T;
  change: Change;
}

export type PublicUser = Omit<UserRow, 'api_key_hash'>;
export type PublicToken = Omit<TokenRow, 'secret_hash'>;

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** A chosen token value shorter than this could be found by trying values against the API. */
export const MIN_TOKEN_LENGTH = 16;

export function toPublicUser({ api_key_hash: _hash, ...rest }: UserRow): PublicUser {
  return rest;
}

export function toPublicToken({ secret_hash: _hash, ...rest }: TokenRow): PublicToken {
  return rest;
}

/** Turns a validated `expires_on` into the `2020-01-01T00:00:00Z` form Cloudflare returns. */
export function normalizeExpiresOn(value: string | null | undefined): string | null {
  if (value == null) return null;
  return new Date(Date.parse(value)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function nameProblem(name: string): string | undefined {
  return name.trim() === '' ? 'must not be empty' : undefined;
}

export function emailProblem(email: string): string | undefined {
  return isEmailAddress(email) ? undefined : `not a valid email address: ${JSON.stringify(email)}`;
}

/** Never echoes the secret itself. */
export function secretProblem(secret: string): string | undefined {
  if (secret.length === 0) return 'must not be empty';
  if (secret.length > MAX_SECRET_LENGTH) return `must be at most ${MAX_SECRET_LENGTH} characters`;
  return SECRET_CHARACTERS.test(secret)
    ? undefined
    : 'must contain only visible ASCII characters (no spaces)';
}

/** A token value someone chose (generated ones are 40 characters); never echoes it. */
export function tokenValueProblem(value: string): string | undefined {
  if (value.length > 0 && value.length < MIN_TOKEN_LENGTH) {
    return `must be at least ${MIN_TOKEN_LENGTH} characters: shorter tokens can be guessed`;
  }
  return secretProblem(value);
}

export function expiresOnProblem(value: string | null | undefined): string | undefined {
  if (value == null) return undefined;
  return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))
    ? undefined
    : `not an RFC 3339 date-time: ${JSON.stringify(value)}`;
}

export function permissionsProblem(permissions: readonly string[]): string | undefined {
  const unknown = permissions.filter((p) => p !== 'read' && p !== 'edit');
  if (unknown.length > 0) return `unknown permission ${JSON.stringify(unknown[0])} (expected read, edit)`;
  if (!permissions.includes('read')) {
    return permissions.includes('edit') ? "'edit' requires 'read'" : "must include 'read'";
  }
  return undefined;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  return a === null || b === null ? a === b : sameSet(a, b);
}

function fail(what: string, issues: Issue[]): never {
  throw new Error(`${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
}

/**
 * Administrative operations on organizations, accounts, users and tokens, for the CLI, bootstrap files
 * and the demo seed. `create*` refuses to overwrite; `put*` upserts idempotently and reports what changed.
 * Every change is audited as the operator's (`CLI_ACTOR`, see ./audit.ts), in the change's transaction.
 */
export class TenancyService {
  constructor(
    private readonly store: TenancyStore,
    private readonly clock: Clock,
    private readonly ids: IdSource = randomIds,
    /** The entitlements an account may hold are the server's resource types' (bootstrap reads it too). */
    readonly resourceTypes: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  ) {}

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

  async organizationIssues(input: OrganizationInput, mode: 'create' | 'put'): Promise<Issue[]> {
    const issues: Issue[] = [];
    const nameIssue = nameProblem(input.name);
    if (nameIssue) issues.push({ path: 'name', message: nameIssue });
    if (input.id !== undefined) {
      if (!isId(input.id)) issues.push({ path: 'id', message: idMessage(input.id) });
      else if (mode === 'create' && (await this.store.getOrganization(input.id))) {
        issues.push({ path: 'id', message: `organization ${input.id} already exists` });
      }
    } else if (mode === 'put') issues.push({ path: 'id', message: 'required' });
    return issues;
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

  async accountIssues(input: AccountInput, mode: 'create' | 'put', pending: Pending = {}): Promise<Issue[]> {
    const issues: Issue[] = [];
    const nameIssue = nameProblem(input.name);
    if (nameIssue) issues.push({ path: 'name', message: nameIssue });
    if (input.id !== undefined) {
      if (!isId(input.id)) issues.push({ path: 'id', message: idMessage(input.id) });
      else if (mode === 'create' && (await this.store.getAccount(input.id))) {
        issues.push({ path: 'id', message: `account ${input.id} already exists` });
      }
    } else if (mode === 'put') issues.push({ path: 'id', message: 'required' });
    issues.push(...(await this.organizationIdIssues(input.organization_id, pending)));
    issues.push(...entitlementIssues(this.resourceTypes, input.entitlements));
    return issues;
  }

  private async organizationIdIssues(orgId: string | null | undefined, pending: Pending): Promise<Issue[]> {
    if (orgId == null) return [];
    const issue = await this.organizationRefProblem(orgId, pending);
    return issue ? [{ path: 'organization_id', message: issue }] : [];
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
    const issues = [...accountIdIssues(id), ...(await this.organizationIdIssues(organizationId, {}))];
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

  async userIssues(input: UserInput, mode: 'create' | 'put', pending: Pending = {}): Promise<Issue[]> {
    const issues: Issue[] = [];
    const emailIssue = emailProblem(input.email);
    if (emailIssue) issues.push({ path: 'email', message: emailIssue });
    else if (mode === 'create' && (await this.store.findUserByEmail(input.email))) {
      issues.push({ path: 'email', message: `user ${input.email} already exists` });
    }
    if (input.api_key !== undefined) {
      const keyIssue = secretProblem(input.api_key);
      if (keyIssue) issues.push({ path: 'api_key', message: keyIssue });
    } else if (mode === 'put') issues.push({ path: 'api_key', message: 'required' });
    issues.push(...(await this.scopeIssues(input, pending)));
    return issues;
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

  /**
   * `create` refuses a value another token holds; `put` upserts by value (bootstrap files), so the token
   * holding it is the one it updates.
   */
  async tokenIssues(input: TokenInput, mode: 'create' | 'put', pending: Pending = {}): Promise<Issue[]> {
    const issues: Issue[] = [];
    const nameIssue = nameProblem(input.name);
    if (nameIssue) issues.push({ path: 'name', message: nameIssue });
    if (input.value !== undefined) {
      const valueIssue = tokenValueProblem(input.value);
      if (valueIssue) issues.push({ path: 'value', message: valueIssue });
      else if (mode === 'create') {
        const holder = await this.store.findTokenCredential(hashSecret(input.value), null);
        if (holder) issues.push({ path: 'value', message: `already used by token ${holder.id}` });
      }
    } else if (mode === 'put') issues.push({ path: 'value', message: 'required' });
    const permIssue = permissionsProblem(input.permissions);
    if (permIssue) issues.push({ path: 'permissions', message: permIssue });
    if (input.status !== undefined && input.status !== 'active' && input.status !== 'disabled') {
      issues.push({
        path: 'status',
        message: `must be active or disabled, not ${JSON.stringify(input.status)}`,
      });
    }
    const expiresIssue = expiresOnProblem(input.expires_on);
    if (expiresIssue) issues.push({ path: 'expires_on', message: expiresIssue });
    issues.push(...(await this.scopeIssues(input, pending)));
    return issues;
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

  private async organizationRefProblem(id: string, pending: Pending): Promise<string | undefined> {
    if (!isId(id)) return idMessage(id);
    if (pending.organizations?.has(id) || (await this.store.getOrganization(id))) return undefined;
    return `unknown organization ${id}`;
  }

  private async scopeIssues(
    input: { accounts: readonly string[]; organizations: readonly string[] },
    pending: Pending,
  ): Promise<Issue[]> {
    const issues: Issue[] = [];
    for (const [i, id] of input.accounts.entries()) {
      if (!isId(id)) issues.push({ path: `accounts[${i}]`, message: idMessage(id) });
      else if (!pending.accounts?.has(id) && !(await this.store.getAccount(id))) {
        issues.push({ path: `accounts[${i}]`, message: `unknown account ${id}` });
      }
    }
    for (const [i, id] of input.organizations.entries()) {
      const issue = await this.organizationRefProblem(id, pending);
      if (issue) issues.push({ path: `organizations[${i}]`, message: issue });
    }
    return issues;
  }
}

function idMessage(id: string): string {
  return `not a valid id (32 lowercase hex characters): ${JSON.stringify(id)}`;
}

function accountIdIssues(id: string): Issue[] {
  return isId(id) ? [] : [{ path: 'id', message: idMessage(id) }];
}

function entitlementIssues(
  types: ResourceTypeRegistry,
  entitlements: readonly string[] | null | undefined,
): Issue[] {
  const issues: Issue[] = [];
  entitlements?.forEach((e, i) => {
    if (!types.isEntitlement(e)) {
      issues.push({
        path: `entitlements[${i}]`,
        message: `unknown resource type ${JSON.stringify(e)} (expected one of ${types.entitlements.join(', ')})`,
      });
    }
  });
  return issues;
}

function accountFields(
  types: ResourceTypeRegistry,
  input: AccountInput,
): Pick<AccountRow, 'name' | 'organization_id' | 'entitlements'> {
  return {
    name: input.name,
    organization_id: input.organization_id ?? null,
    entitlements:
      input.entitlements == null ? null : unique(input.entitlements.filter((e) => types.isEntitlement(e))),
  };
}

function tokenFields(input: TokenInput, value: string): Omit<TokenRow, 'id' | 'created'> {
  return {
    name: input.name,
    secret_hash: hashSecret(value),
    can_edit: input.permissions.includes('edit'),
    status: input.status ?? 'active',
    expires_on: normalizeExpiresOn(input.expires_on),
    accounts: unique(input.accounts),
    organizations: unique(input.organizations),
  };
}
