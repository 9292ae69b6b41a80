import { isEmailAddress, MAX_SECRET_LENGTH, SECRET_CHARACTERS } from '../../lib/credential-shapes.js';
import { isId } from '../../lib/ids.js';
import type { ResourceTypeRegistry } from '../resource-types/registry.js';
import type { TokenRow } from './store.js';

// What an operator (CLI, bootstrap file, demo seed) asks for, and the checks of each field that need no store.

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

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** A chosen token value shorter than this could be found by trying values against the API. */
export const MIN_TOKEN_LENGTH = 16;

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

export function fail(what: string, issues: Issue[]): never {
  throw new Error(`${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
}

export function idMessage(id: string): string {
  return `not a valid id (32 lowercase hex characters): ${JSON.stringify(id)}`;
}

export function accountIdIssues(id: string): Issue[] {
  return isId(id) ? [] : [{ path: 'id', message: idMessage(id) }];
}

export function entitlementIssues(
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
