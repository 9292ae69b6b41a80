import { groupBy } from '../../lib/group-by.js';
import type { ResourceType } from '../../http/common-schemas.js';
import type { AccountRow, Scope, ScopeTarget, TokenRow, UserRow } from '../../platform/tenancy/store.js';

/* The tenancy tables' stored records and their conversions to the tenancy store's rows. */
export interface AccountRecord {
  id: string;
  name: string;
  organization_id: string | null;
  entitlements: string | null;
  created: string;
  modified: string;
}

export interface UserRecord {
  id: string;
  email: string;
  api_key_hash: string;
  created: string;
}

export interface TokenRecord {
  id: string;
  name: string;
  secret_hash: string;
  can_edit: number;
  status: 'active' | 'disabled';
  expires_on: string | null;
  created: string;
}

export interface ScopeLink {
  owner: string;
  target: string;
}

export const ORG_COLUMNS = 'id, name, created, modified';
export const ACCOUNT_COLUMNS = 'id, name, organization_id, entitlements, created, modified';
export const USER_COLUMNS = 'id, email, api_key_hash, created';
export const TOKEN_COLUMNS = 'id, name, secret_hash, can_edit, status, expires_on, created';

/**
 * Users and tokens have no `modified` field in their rows, so the store stamps updates itself; the value
 * is bookkeeping only and never reaches the API.
 */
export const NOW_SQL = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

export function toAccount(r: AccountRecord): AccountRow {
  return {
    ...r,
    entitlements: r.entitlements === null ? null : (JSON.parse(r.entitlements) as ResourceType[]),
  };
}

/** Compares stored entitlements as sets; null (every type) differs from any list. */
export function sameEntitlements(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  const sa = new Set(JSON.parse(a) as string[]);
  const sb = new Set(JSON.parse(b) as string[]);
  return sa.size === sb.size && [...sb].every((t) => sa.has(t));
}

/** The stored columns of a user (its scope lives in user_accounts and user_organizations). */
export function userRecord(row: Omit<UserRow, keyof Scope>): UserRecord {
  return { id: row.id, email: row.email, api_key_hash: row.api_key_hash, created: row.created };
}

/** The stored columns of a token (SQLite keeps the boolean as 0/1). */
export function tokenRecord(row: Omit<TokenRow, keyof Scope>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    secret_hash: row.secret_hash,
    can_edit: row.can_edit ? 1 : 0,
    status: row.status,
    expires_on: row.expires_on,
    created: row.created,
  };
}

export function toToken(r: TokenRecord, scope: Scope): TokenRow {
  return { ...r, can_edit: r.can_edit === 1, ...scope };
}

export type Target = 'account' | 'organization' | 'none';

export function targetOf(target: ScopeTarget): { kind: Target; id: string } {
  if (target === null) return { kind: 'none', id: '' };
  return 'account' in target
    ? { kind: 'account', id: target.account }
    : { kind: 'organization', id: target.organization };
}

/**
 * Whether the scope holds the target (bound as the first parameter) and, for an account target, that
 * account's row, joined through the scope link: the request never reads the account again.
 */
export function targetSql(
  owner: 'user' | 'token',
  alias: string,
  kind: Target,
): { columns: string; join: string } {
  if (kind !== 'account') {
    return {
      columns: `${inScopeSql(owner, alias, kind)} AS in_scope, NULL AS account_name,
        NULL AS account_organization_id, NULL AS account_entitlements, NULL AS account_created,
        NULL AS account_modified`,
      join: '',
    };
  }
  return {
    columns: `l.account_id IS NOT NULL AS in_scope, ta.name AS account_name,
      ta.organization_id AS account_organization_id, ta.entitlements AS account_entitlements,
      ta.created AS account_created, ta.modified AS account_modified`,
    join: `LEFT JOIN ${owner}_accounts l ON l.${owner}_id = ${alias}.id AND l.account_id = ?
      LEFT JOIN accounts ta ON ta.id = l.account_id`,
  };
}

export interface TargetAccountRecord {
  in_scope: number;
  account_name: string | null;
  account_organization_id: string | null;
  account_entitlements: string | null;
  account_created: string | null;
  account_modified: string | null;
}

/** The target account of a credential row, when the target is an existing account. */
export function targetAccount(id: string, r: TargetAccountRecord): AccountRow | undefined {
  if (r.account_name === null) return undefined;
  return toAccount({
    id,
    name: r.account_name,
    organization_id: r.account_organization_id,
    entitlements: r.account_entitlements,
    created: r.account_created ?? '',
    modified: r.account_modified ?? '',
  });
}

export function scoped(
  targetId: string,
  r: TargetAccountRecord,
): { in_scope: boolean; account?: AccountRow } {
  const account = targetAccount(targetId, r);
  return account ? { in_scope: r.in_scope === 1, account } : { in_scope: r.in_scope === 1 };
}

/** `EXISTS` over the scope table the target names; the id is bound as the first parameter. */
export function inScopeSql(owner: 'user' | 'token', alias: string, kind: Target): string {
  if (kind === 'none') return '(0 AND ? IS NULL)';
  const table = `${owner}_${kind === 'account' ? 'accounts' : 'organizations'}`;
  return `EXISTS (SELECT 1 FROM ${table} WHERE ${owner}_id = ${alias}.id AND ${kind}_id = ?)`;
}

/** Groups link rows by owner; rowid order keeps each scope in the order it was written. */
export function groupLinks(links: ScopeLink[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [owner, group] of groupBy(links, (l) => l.owner))
    out.set(
      owner,
      group.map((l) => l.target),
    );
  return out;
}
