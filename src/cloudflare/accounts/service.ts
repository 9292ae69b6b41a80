import type { Principal } from '../../platform/tenancy/auth.js';
import type { Page } from '../../http/envelope.js';
import type { AccountObject, ListAccountsQuery } from './schemas.js';
import type { AccountsStore, ScopedAccountRow } from './store.js';

function toAccount(row: ScopedAccountRow): AccountObject {
  const account: AccountObject = {
    id: row.id,
    name: row.name,
    type: 'standard',
    created_on: row.created,
    settings: { enforce_twofactor: false },
  };
  if (row.organization_id !== null) {
    account.managed_by = { parent_org_id: row.organization_id, parent_org_name: row.organization_name ?? '' };
  }
  return account;
}

/** The accounts the caller can see: a token's or user's accounts and the members of its organizations. */
export async function accountsInScope(
  store: AccountsStore,
  principal: Principal,
  query: ListAccountsQuery,
  page: Page,
): Promise<{ items: AccountObject[]; total: number }> {
  const name = query.name?.trim();
  const { rows, total } = await store.listInScope(
    { kind: principal.kind, id: principal.id },
    {
      ...(name ? { name } : {}),
      direction: query.direction ?? 'asc',
      limit: page.limit,
      offset: page.offset,
    },
  );
  return { items: rows.map(toAccount), total };
}

export class AccountsService {
  constructor(private readonly store: AccountsStore) {}

  list(
    principal: Principal,
    query: ListAccountsQuery,
    page: Page,
  ): Promise<{ items: AccountObject[]; total: number }> {
    return accountsInScope(this.store, principal, query, page);
  }
}
