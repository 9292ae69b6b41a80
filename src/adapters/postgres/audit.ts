import type pg from 'pg';
import type { AuditEntry } from '../../platform/audit/entry.js';
import type { AuditListQuery, AuditRow, AuditStore } from '../../cloudflare/audit/store.js';
import {
  AUDIT_COLUMNS,
  auditFilterSql,
  parseAuditRow,
  storedAuditEntry,
  type StoredAuditRow,
} from '../audit-rows.js';
import { named, transaction, type Queryable } from './database.js';

const COLUMNS = AUDIT_COLUMNS.join(', ');

/**
 * One statement for any number of entries: the rows travel as one JSON array (`auditJson`), bound at
 * `param`, mapped onto the table. Also a CTE of a caller's own statement.
 */
export function auditInsertSql(param: string): string {
  return `INSERT INTO audit_logs (${COLUMNS})
  SELECT ${COLUMNS} FROM json_populate_recordset(NULL::audit_logs, ${param}::json)`;
}
const INSERT = auditInsertSql('$1');

export function auditJson(entries: readonly AuditEntry[]): string {
  return JSON.stringify(entries.map(storedAuditEntry));
}

/** Writes entries inside the caller's transaction. */
export async function insertAudit(db: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(named(INSERT, [auditJson(entries)]));
}

const FILTER_SQL = auditFilterSql((sql) => `${sql}::text`);

export class PgAuditStore implements AuditStore {
  constructor(private readonly pool: pg.Pool) {}

  async list(q: AuditListQuery): Promise<AuditRow[]> {
    const args: unknown[] = [q.accountId];
    const arg = (v: unknown) => `$${args.push(v)}`;
    const where = [`l.account_id = $1`];
    if (q.since !== undefined) where.push(`l.time >= ${arg(q.since)}::timestamptz`);
    if (q.before !== undefined) where.push(`l.time < ${arg(q.before)}::timestamptz`);
    const dir = q.direction === 'asc' ? 'ASC' : 'DESC';
    if (q.after) {
      where.push(
        `(l.time, l.seq) ${dir === 'ASC' ? '>' : '<'} (${arg(q.after.time)}::timestamptz, ${arg(q.after.seq)}::bigint)`,
      );
    }
    for (const f of q.filters) {
      const test = `${FILTER_SQL[f.column]} = ANY(${arg(f.values)}::text[])`;
      // NOT over a NULL column is NULL: an entry without the field is not one the caller filtered out.
      where.push(f.not ? `NOT coalesce(${test}, false)` : test);
    }
    const { rows } = await this.pool.query<StoredAuditRow>(
      `SELECT l.id::text AS id, l.seq, l.account_id, l.organization_id, l.time, l.action_type,
         l.action_description, l.action_result, l.actor_type, l.actor_id, l.actor_email, l.actor_ip,
         l.actor_context, l.actor_token_id, l.actor_token_name, l.interface, l.resource_type, l.resource_id, l.share_id,
         l.raw_method, l.raw_uri, l.raw_status_code, l.raw_user_agent, l.raw_ray_id, l.old_value,
         l.new_value, l.metadata, l.request, a.name AS account_name
       FROM audit_logs l LEFT JOIN accounts a ON a.id = l.account_id
       WHERE ${where.join(' AND ')} ORDER BY l.time ${dir}, l.seq ${dir}
       LIMIT ${arg(q.limit)} OFFSET ${arg(q.offset ?? 0)}`,
      args,
    );
    return rows.map(parseAuditRow);
  }

  async record(entries: AuditEntry[]): Promise<void> {
    await transaction(this.pool, (client) => insertAudit(client, entries));
  }

  async prune(before: string, limit: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      named(
        `DELETE FROM audit_logs WHERE seq IN
           (SELECT seq FROM audit_logs WHERE time < $1::timestamptz LIMIT $2)`,
        [before, limit],
      ),
    );
    return rowCount ?? 0;
  }
}
