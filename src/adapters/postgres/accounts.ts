import type pg from 'pg';
import {
  SCOPE_TABLES,
  type AccountListQuery,
  type AccountsStore,
  type ScopeOwner,
  type ScopedAccountRow,
} from '../../cloudflare/accounts/store.js';
import { named } from './database.js';

/** The ids in an owner's scope: its own accounts, and the members of its organizations (by their index). */
function scopeCte(kind: ScopeOwner['kind']): string {
  const t = SCOPE_TABLES[kind];
  return `WITH scope (id) AS (
      SELECT account_id FROM ${t.accounts} WHERE ${t.key} = $1
      UNION
      SELECT a.id FROM ${t.organizations} o JOIN accounts a ON a.organization_id = o.organization_id
      WHERE o.${t.key} = $1
    )`;
}

const NAME_FILTER = '($2::text IS NULL OR strpos(lower(a.name), lower($2::text)) > 0)';

const count = (kind: ScopeOwner['kind']) =>
  `${scopeCte(kind)} SELECT COUNT(*) AS n FROM scope s JOIN accounts a ON a.id = s.id WHERE ${NAME_FILTER}`;

// Four constant texts (kind × direction), each a named prepared statement.
const page = (kind: ScopeOwner['kind'], dir: 'ASC' | 'DESC') =>
  `${scopeCte(kind)}
   SELECT a.id, a.name, a.organization_id, o.name AS organization_name, a.created
   FROM scope s JOIN accounts a ON a.id = s.id LEFT JOIN organizations o ON o.id = a.organization_id
   WHERE ${NAME_FILTER}
   ORDER BY a.name ${dir}, a.id ${dir} LIMIT $3 OFFSET $4`;

const QUERIES = {
  user: { count: count('user'), asc: page('user', 'ASC'), desc: page('user', 'DESC') },
  token: { count: count('token'), asc: page('token', 'ASC'), desc: page('token', 'DESC') },
};

export class PgAccountsStore implements AccountsStore {
  constructor(private readonly pool: pg.Pool) {}

  async listInScope(
    owner: ScopeOwner,
    query: AccountListQuery,
  ): Promise<{ rows: ScopedAccountRow[]; total: number }> {
    const q = QUERIES[owner.kind];
    const name = query.name ?? null;
    const counted = await this.pool.query<{ n: number }>(named(q.count, [owner.id, name]));
    const total = counted.rows[0]?.n ?? 0;
    if (query.offset >= total) return { rows: [], total };
    const listed = await this.pool.query<ScopedAccountRow>(
      named(q[query.direction], [owner.id, name, query.limit, query.offset]),
    );
    return { rows: listed.rows, total };
  }
}
