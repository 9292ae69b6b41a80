import { isId } from '../../lib/ids.js';
import { hashSecret } from '../../lib/secrets.js';
import type { ResourceTypeRegistry } from '../resource-types/registry.js';
import {
  emailProblem,
  entitlementIssues,
  expiresOnProblem,
  idMessage,
  type AccountInput,
  type Issue,
  nameProblem,
  type OrganizationInput,
  type Pending,
  permissionsProblem,
  secretProblem,
  type TokenInput,
  tokenValueProblem,
  type UserInput,
} from './inputs.js';
import type { TenancyStore } from './store.js';

/** The reads the checks make: whether ids, emails and token values are taken or known. */
export type TenancyChecksStore = Pick<
  TenancyStore,
  'getOrganization' | 'getAccount' | 'findUserByEmail' | 'findTokenCredential'
>;

/**
 * The checks of an operator's input that look at the rows the store holds (ids taken or unknown, emails
 * and token values in use), each field's own checks included.
 */
export class TenancyChecks {
  constructor(
    private readonly store: TenancyChecksStore,
    private readonly resourceTypes: ResourceTypeRegistry,
  ) {}

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

  async organizationIdIssues(orgId: string | null | undefined, pending: Pending): Promise<Issue[]> {
    if (orgId == null) return [];
    const issue = await this.organizationRefProblem(orgId, pending);
    return issue ? [{ path: 'organization_id', message: issue }] : [];
  }

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
