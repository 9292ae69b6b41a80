import type Database from 'better-sqlite3';
import type { AuditEntry } from '../../platform/audit/entry.js';
import type { AuditListQuery, AuditRow, AuditStore } from '../../cloudflare/audit/store.js';
import {
  AUDIT_COLUMNS,
  auditFilterSql,
  auditValues,
  parseAuditRow,
  type StoredAuditRow,
} from '../audit-rows.js';
import { prepared } from './database.js';

type Db = Database.Database;

const INSERT = `INSERT INTO audit_logs (${AUDIT_COLUMNS.join(', ')})
  VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`;

/** Writes entries inside the caller's transaction. */
export function insertAudit(db: Db, entries: readonly AuditEntry[]): void {
  if (entries.length === 0) return;
  const insert = prepared(db, INSERT);
  for (const e of entries) {
    insert.run(auditValues(e));
  }
}

// IN applies the column's affinity to the list's values (201 matches '201'), so SQLite casts nothing and
// the indexes on id and share_id serve. The list is one JSON parameter: the text does not vary with its
// length, so one compiled statement serves every length.
const FILTER_SQL = auditFilterSql((sql) => sql);

/** The index of `id TEXT NOT NULL UNIQUE` (SQLite names a constraint's index after its table). */
const ID_INDEX = 'sqlite_autoindex_audit_logs_1';

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
      const test = `${FILTER_SQL[f.column]} IN (SELECT value FROM json_each(?))`;
      // NOT over a NULL column is NULL: an entry without the field is not one the caller filtered out.
      where.push(f.not ? `NOT coalesce(${test}, 0)` : test);
      args.push(JSON.stringify(f.values));
    }
    // Entries by id, or a share's history, read their own index: without statistics (SQLite gathers none by
    // itself, and guesses a JSON list long) the planner would walk the whole account's log in time order.
    const index = q.filters.some((f) => f.column === 'id' && !f.not)
      ? ID_INDEX
      : q.filters.some((f) => f.column === 'share_id' && !f.not)
        ? 'audit_logs_share_time'
        : undefined;
    const rows = prepared(
      this.db,
      `SELECT l.*, a.name AS account_name
       FROM audit_logs l ${index ? `INDEXED BY ${index} ` : ''}LEFT JOIN accounts a ON a.id = l.account_id
       WHERE ${where.join(' AND ')} ORDER BY l.time ${dir}, l.seq ${dir} LIMIT ? OFFSET ?`,
    ).all(...args, q.limit, q.offset ?? 0) as StoredAuditRow[];
    return rows.map(parseAuditRow);
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
