import type Database from 'better-sqlite3';
import { AUDIT_PRODUCT, type AuditEntry } from '../../audit/entry.js';
import type { AuditFilterColumn, AuditListQuery, AuditRow, AuditStore } from '../../audit/store.js';
import { placeholders, prepared } from './database.js';

type Db = Database.Database;

const INSERT = `INSERT INTO audit_logs (id, account_id, organization_id, time, action_type, action_description,
  action_result, actor_type, actor_id, actor_email, actor_ip, actor_context, actor_token_id, actor_token_name,
  interface, resource_type, resource_id, share_id, raw_method, raw_uri, raw_status_code, raw_user_agent, raw_ray_id,
  old_value, new_value, metadata, request)
  VALUES (@id, @account_id, @organization_id, @time, @action_type, @action_description, @action_result,
  @actor_type, @actor_id, @actor_email, @actor_ip, @actor_context, @actor_token_id, @actor_token_name,
  @interface, @resource_type, @resource_id, @share_id, @raw_method, @raw_uri, @raw_status_code, @raw_user_agent,
  @raw_ray_id, @old_value, @new_value, @metadata, @request)`;

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** Writes entries inside the caller's transaction. */
export function insertAudit(db: Db, entries: readonly AuditEntry[]): void {
  if (entries.length === 0) return;
  const insert = prepared(db, INSERT);
  for (const e of entries) {
    insert.run({
      ...e,
      old_value: json(e.old_value),
      new_value: json(e.new_value),
      metadata: json(e.metadata),
      request: json(e.request),
    });
  }
}

/** The SQL each filter column reads; product and scope are the same for every rshare entry. */
const FILTER_SQL: Record<AuditFilterColumn, string> = {
  id: 'l.id',
  account_name: 'a.name',
  action_result: 'l.action_result',
  action_type: 'l.action_type',
  actor_context: 'l.actor_context',
  actor_email: 'l.actor_email',
  actor_id: 'l.actor_id',
  actor_ip: 'l.actor_ip',
  actor_token_id: 'l.actor_token_id',
  actor_token_name: 'l.actor_token_name',
  actor_type: 'l.actor_type',
  raw_ray_id: 'l.raw_ray_id',
  raw_method: 'l.raw_method',
  raw_status_code: 'CAST(l.raw_status_code AS TEXT)',
  raw_uri: 'l.raw_uri',
  resource_id: 'l.resource_id',
  resource_product: `'${AUDIT_PRODUCT}'`,
  resource_scope: `'accounts'`,
  resource_type: 'l.resource_type',
  share_id: 'l.share_id',
};

interface StoredRow extends Omit<AuditRow, 'old_value' | 'new_value' | 'metadata' | 'request'> {
  old_value: string | null;
  new_value: string | null;
  metadata: string | null;
  request: string | null;
}

export class SqliteAuditStore implements AuditStore {
  constructor(private readonly db: Db) {}

  async list(q: AuditListQuery): Promise<AuditRow[]> {
    const where = ['l.account_id = ?'];
    const args: unknown[] = [q.accountId];
    if (q.since !== undefined) {
      where.push('l.time >= ?');
      args.push(q.since);
    }
    if (q.before !== undefined) {
      where.push('l.time < ?');
      args.push(q.before);
    }
    const dir = q.direction === 'asc' ? 'ASC' : 'DESC';
    if (q.after) {
      where.push(`(l.time, l.seq) ${dir === 'ASC' ? '>' : '<'} (?, ?)`);
      args.push(q.after.time, q.after.seq);
    }
    for (const f of q.filters) {
      const test = `${FILTER_SQL[f.column]} IN (${placeholders(f.values.length)})`;
      // NOT over a NULL column is NULL: an entry without the field is not one the caller filtered out.
      where.push(f.not ? `NOT coalesce(${test}, 0)` : test);
      args.push(...f.values);
    }
    const rows = prepared(
      this.db,
      `SELECT l.*, a.name AS account_name FROM audit_logs l LEFT JOIN accounts a ON a.id = l.account_id
       WHERE ${where.join(' AND ')} ORDER BY l.time ${dir}, l.seq ${dir} LIMIT ? OFFSET ?`,
    ).all(...args, q.limit, q.offset ?? 0) as StoredRow[];
    return rows.map(parseRow);
  }

  async record(entries: AuditEntry[]): Promise<void> {
    this.db.transaction(() => insertAudit(this.db, entries))();
  }

  async prune(before: string, limit: number): Promise<number> {
    return prepared(
      this.db,
      'DELETE FROM audit_logs WHERE seq IN (SELECT seq FROM audit_logs WHERE time < ? LIMIT ?)',
    ).run(before, limit).changes;
  }
}

function parseRow(row: StoredRow): AuditRow {
  const parse = (v: string | null): unknown => (v === null ? null : JSON.parse(v));
  return {
    ...row,
    old_value: parse(row.old_value),
    new_value: parse(row.new_value),
    metadata: parse(row.metadata),
    request: parse(row.request),
  };
}
