import { hashSecret } from '../../lib/secrets.js';
import type { ResourceTypeRegistry } from '../resource-types/registry.js';
import type { AccountInput, TokenInput } from './inputs.js';
import type { AccountRow, TokenRow, UserRow } from './store.js';

// Checked inputs made into the rows the store keeps, rows compared, and rows shown without their digests.

export type PublicUser = Omit<UserRow, 'api_key_hash'>;
export type PublicToken = Omit<TokenRow, 'secret_hash'>;

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

export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

export function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  return a === null || b === null ? a === b : sameSet(a, b);
}

export function accountFields(
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

export function tokenFields(input: TokenInput, value: string): Omit<TokenRow, 'id' | 'created'> {
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
