import type Database from 'better-sqlite3';
import {
  SCOPE_TABLES,
  type AccountListQuery,
  type AccountsStore,
  type ScopeOwner,
  type ScopedAccountRow,
} from '../../cloudflare/accounts/store.js';
import { prepared } from './database.js';

type Db = Database.Database;

/** The ids in an owner's scope: its own accounts, and the members of its organizations (by their index). */
function scopeCte(kind: ScopeOwner['kind']): string {
  const t = SCOPE_TABLES[kind];
  return `WITH scope (id) AS (
      SELECT account_id FROM ${t.accounts} WHERE ${t.key} = @owner
      UNION
      SELECT a.id FROM ${t.organizations} o JOIN accounts a ON a.organization_id = o.organization_id
      WHERE o.${t.key} = @owner
    )`;
}

const NAME_FILTER = '(@name IS NULL OR instr(lower(a.name), lower(@name)) > 0)';

export class SqliteAccountsStore implements AccountsStore {
  constructor(private readonly db: Db) {}

  async listInScope(
    owner: ScopeOwner,
    query: AccountListQuery,
  ): Promise<{ rows: ScopedAccountRow[]; total: number }> {
    const params = { owner: owner.id, name: query.name ?? null };
    const read = this.db.transaction(() => {
      const { n: total } = prepared(
        this.db,
        `${scopeCte(owner.kind)} SELECT COUNT(*) AS n FROM scope s JOIN accounts a ON a.id = s.id
         WHERE ${NAME_FILTER}`,
      ).get(params) as { n: number };
      if (query.offset >= total) return { rows: [], total };
      const dir = query.direction === 'desc' ? 'DESC' : 'ASC';
      const rows = prepared(
        this.db,
        `${scopeCte(owner.kind)}
         SELECT a.id, a.name, a.organization_id, o.name AS organization_name, a.created
         FROM scope s JOIN accounts a ON a.id = s.id LEFT JOIN organizations o ON o.id = a.organization_id
         WHERE ${NAME_FILTER}
         ORDER BY a.name ${dir}, a.id ${dir} LIMIT @limit OFFSET @offset`,
      ).all({ ...params, limit: query.limit, offset: query.offset }) as ScopedAccountRow[];
      return { rows, total };
    });
    return read();
  }
}
