import type Database from 'better-sqlite3';
import type { AuditEntry } from '../../audit/entry.js';
import { insertAudit } from './audit.js';
import type { ResourceRow } from '../../resources/store.js';
import type {
  NewShare,
  RecipientCounts,
  ShareListQuery,
  ShareView,
  SharesStore,
  Tags,
} from '../../shares/store.js';
import { groupBy, groupTags, recipientCounts } from '../rows.js';
import { prepared } from './database.js';
import { insertRecipient } from './recipients.js';
import { enqueue, enqueueShareRecipients } from './work.js';
import { dueNow, type WorkTiming } from '../../reconciler/timing.js';
import { insertResource, toResourceRow, type ResourceRecord } from './resources.js';

type Db = Database.Database;

const SHARE_COLUMNS = `s.id, s.account_id, s.organization_id, s.name, s.target_type, s.status, s.created, s.modified,
  a.name AS account_name`;

/**
 * The filters both lists share, on a row alias whose table has `status`, `target_type` and the share id
 * in `idColumn` (shares as `s`, share_visibility as `v`).
 */
function shareFilters(
  alias: 's' | 'v',
  idColumn: string,
  q: ShareListQuery,
  args: Record<string, unknown>,
): string[] {
  const where: string[] = [];
  if (q.status) {
    where.push(`${alias}.status = @status`);
    args.status = q.status;
  }
  if (q.targetType) {
    where.push(`${alias}.target_type = @target`);
    args.target = q.targetType;
  }
  if (q.resourceTypes?.length) {
    args.types = JSON.stringify(q.resourceTypes);
    // Shares holding a live resource of one of the types.
    where.push(`EXISTS (SELECT 1 FROM share_resources sr WHERE sr.share_id = ${alias}.${idColumn}
      AND sr.status <> 'deleted' AND sr.resource_type IN (SELECT value FROM json_each(@types)))`);
  }
  return where;
}

export class SqliteSharesStore implements SharesStore {
  private readonly byId;
  private readonly nextSeq;
  private readonly shareCount;
  private readonly insertShare;
  private readonly insertTag;
  private readonly deleteTags;
  private readonly activeRecipient;
  private readonly rename;
  private readonly shareStatus;

  constructor(
    private readonly db: Db,
    private readonly timing: WorkTiming = dueNow,
  ) {
    this.byId = db.prepare<[string], ShareView>(
      `SELECT ${SHARE_COLUMNS} FROM shares s JOIN accounts a ON a.id = s.account_id WHERE s.id = ?`,
    );
    // The write lock is held for the whole create, so the counter's next value is this share's place.
    this.nextSeq = db
      .prepare<[string], number>(
        'UPDATE organizations SET share_count = share_count + 1 WHERE id = ? RETURNING share_count',
      )
      .pluck();
    this.shareCount = db
      .prepare<[string], number>('SELECT share_count FROM organizations WHERE id = ?')
      .pluck();
    this.insertShare = db.prepare(
      `INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified, org_seq)
       VALUES (@id, @account_id, @organization_id, @name, @target_type, @status, @created, @modified, @org_seq)`,
    );
    this.insertTag = db.prepare('INSERT INTO share_tags (share_id, key, value) VALUES (?, ?, ?)');
    this.deleteTags = db.prepare('DELETE FROM share_tags WHERE share_id = ?');
    this.activeRecipient = db.prepare<[string, string], { one: number }>(
      `SELECT 1 AS one FROM share_recipients
       WHERE share_id = ? AND account_id = ? AND status IN ('associating', 'associated')`,
    );
    this.shareStatus = db.prepare<[string], { status: string }>('SELECT status FROM shares WHERE id = ?');
    this.rename = db.prepare(`UPDATE shares SET name = ?, modified = ? WHERE id = ? AND status = 'active'`);
  }

  async create(input: NewShare, audit: readonly AuditEntry[] = []): Promise<void> {
    this.db.transaction(() => {
      const seq = this.nextSeq.get(input.share.organization_id);
      if (seq === undefined) throw new Error(`organization ${input.share.organization_id} does not exist`);
      this.insertShare.run({ ...input.share, org_seq: seq });
      for (const [key, value] of Object.entries(input.tags)) this.insertTag.run(input.share.id, key, value);
      const due = this.timing.dueAt();
      for (const r of input.recipients) insertRecipient(this.db, r, due);
      for (const r of input.resources) insertResource(this.db, r);
      // An organization-targeted share's recipients are derived by the reconciler from the members.
      if (input.share.target_type === 'organization') enqueue(this.db, 'share', input.share.id, due);
      insertAudit(this.db, audit);
    })();
  }

  async get(id: string): Promise<ShareView | undefined> {
    return this.byId.get(id);
  }

  async isActiveRecipient(shareId: string, accountId: string): Promise<boolean> {
    return this.activeRecipient.get(shareId, accountId) !== undefined;
  }

  async list(q: ShareListQuery): Promise<{ rows: ShareView[]; total: number }> {
    return 'accountId' in q.scope
      ? this.listForAccount(q.scope.accountId, q)
      : this.listForOrganization(q.scope.organizationId, q);
  }

  /** Reads share_visibility, whose rows carry every filter and sort column: a page never visits the rest. */
  private listForAccount(accountId: string, q: ShareListQuery): { rows: ShareView[]; total: number } {
    const where = ['v.account_id = @acct'];
    const args: Record<string, unknown> = { acct: accountId };
    if (q.kind) {
      where.push('v.kind = @kind');
      args.kind = q.kind;
    }
    where.push(...shareFilters('v', 'share_id', q, args));
    if (q.tags?.length) {
      // tags holds SQLite's own JSON text: a pair matches right after "{" or ",", never inside a string.
      // Every asked tag must match, so no asked tag may be missing.
      args.tags = JSON.stringify(q.tags.map((t) => [t.key, t.value ?? null]));
      where.push(`NOT EXISTS (SELECT 1 FROM (SELECT json_quote(t.value ->> 0) || ':' ||
          CASE WHEN t.value ->> 1 IS NULL THEN '' ELSE json_quote(t.value ->> 1) END AS needle
        FROM json_each(@tags) t) n
        WHERE instr(v.tags, '{' || n.needle) = 0 AND instr(v.tags, ',' || n.needle) = 0)`);
    }
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    const order = (t: string) =>
      q.order === 'name'
        ? `${t}.name ${dir}, ${t}.created ${dir}, ${t}.share_id ${dir}`
        : `${t}.created ${dir}, ${t}.share_id ${dir}`;
    const filter = `FROM share_visibility v WHERE ${where.join(' AND ')}`;
    const total = (this.statement(`SELECT COUNT(*) AS n ${filter}`).get(args) as { n: number }).n;
    if (q.offset >= total) return { rows: [], total };
    const rows = this.statement(
      `SELECT ${SHARE_COLUMNS}
       FROM (SELECT v.share_id, v.created, v.name ${filter} ORDER BY ${order('v')} LIMIT @limit OFFSET @offset) p
       JOIN shares s ON s.id = p.share_id JOIN accounts a ON a.id = s.account_id
       ORDER BY ${order('p')}`,
    ).all({ ...args, limit: q.limit, offset: q.offset }) as ShareView[];
    return { rows, total };
  }

  private listForOrganization(
    organizationId: string,
    q: ShareListQuery,
  ): { rows: ShareView[]; total: number } {
    // Every share of an organization is sent by it; none is received from outside.
    if (q.kind === 'received') return { rows: [], total: 0 };
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    if (!q.status && !q.targetType && !q.resourceTypes?.length && q.order === 'created') {
      // Unfiltered, in creation order: the page is a range of share numbers, found at any depth at once.
      const total = this.shareCount.get(organizationId) ?? 0;
      if (q.offset >= total) return { rows: [], total };
      const [from, to] =
        dir === 'ASC'
          ? [q.offset + 1, q.offset + q.limit]
          : [total - q.offset - q.limit + 1, total - q.offset];
      const rows = this.statement(
        `SELECT ${SHARE_COLUMNS} FROM shares s JOIN accounts a ON a.id = s.account_id
         WHERE s.organization_id = ? AND s.org_seq BETWEEN ? AND ? ORDER BY s.org_seq ${dir}`,
      ).all(organizationId, from, to) as ShareView[];
      return { rows, total };
    }
    const args: Record<string, unknown> = { org: organizationId };
    const where = ['s.organization_id = @org', ...shareFilters('s', 'id', q, args)];
    const orderBy = q.order === 'name' ? `s.name ${dir}, s.org_seq ${dir}` : `s.org_seq ${dir}`;
    const from = `FROM shares s WHERE ${where.join(' AND ')}`;
    const total = (this.statement(`SELECT COUNT(*) AS n ${from}`).get(args) as { n: number }).n;
    if (q.offset >= total) return { rows: [], total };
    const rows = this.statement(
      `SELECT ${SHARE_COLUMNS} FROM (SELECT s.id ${from} ORDER BY ${orderBy} LIMIT @limit OFFSET @offset) p
       JOIN shares s ON s.id = p.id JOIN accounts a ON a.id = s.account_id ORDER BY ${orderBy}`,
    ).all({ ...args, limit: q.limit, offset: q.offset }) as ShareView[];
    return { rows, total };
  }

  private statement(sql: string): Database.Statement {
    return prepared(this.db, sql);
  }

  async tagsOf(shareIds: string[]): Promise<Map<string, Tags>> {
    const rows = this.statement(
      'SELECT share_id, key, value FROM share_tags WHERE share_id IN (SELECT value FROM json_each(?))',
    ).all(JSON.stringify(shareIds)) as { share_id: string; key: string; value: string }[];
    return groupTags(rows);
  }

  async resourcesOf(shareIds: string[]): Promise<Map<string, ResourceRow[]>> {
    const rows = this.statement(
      'SELECT * FROM share_resources WHERE share_id IN (SELECT value FROM json_each(?)) ORDER BY created, id',
    ).all(JSON.stringify(shareIds)) as ResourceRecord[];
    return groupBy(rows.map(toResourceRow), (r) => r.share_id);
  }

  async recipientCountsOf(shareIds: string[]): Promise<Map<string, RecipientCounts>> {
    const rows = this.statement(
      `SELECT share_id, status, COUNT(*) AS n FROM share_recipients
       WHERE share_id IN (SELECT value FROM json_each(?)) GROUP BY share_id, status`,
    ).all(JSON.stringify(shareIds)) as { share_id: string; status: keyof RecipientCounts; n: number }[];
    return recipientCounts(shareIds, rows);
  }

  async update(
    id: string,
    name: string,
    tags: Tags | undefined,
    modified: string,
    audit: readonly AuditEntry[] = [],
  ): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.rename.run(name, modified, id).changes === 0) return false;
      if (tags) {
        this.deleteTags.run(id);
        for (const [key, value] of Object.entries(tags)) this.insertTag.run(id, key, value);
      }
      insertAudit(this.db, audit);
      return true;
    })();
  }

  async markDeleting(id: string, modified: string, audit: readonly AuditEntry[] = []): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.shareStatus.get(id)?.status !== 'active') return false;
      startShareDelete(this.db, id, modified, this.timing.dueAt());
      insertAudit(this.db, audit);
      return true;
    })();
  }
}

/**
 * Starts the asynchronous delete of an active share in the caller's transaction: the share goes
 * `deleting`, its recipients `disassociating`, its live resources `deleting`, and the work is queued.
 */
export function startShareDelete(db: Db, id: string, modified: string, due: number): void {
  prepared(db, `UPDATE shares SET status = 'deleting', modified = ? WHERE id = ? AND status = 'active'`).run(
    modified,
    id,
  );
  prepared(
    db,
    `UPDATE share_recipients SET desired_status = 'disassociated', status = 'disassociating', modified = ?
     WHERE share_id = ? AND status <> 'disassociated'`,
  ).run(modified, id);
  prepared(
    db,
    `UPDATE share_resources SET status = 'deleting', modified = ? WHERE share_id = ? AND status = 'active'`,
  ).run(modified, id);
  enqueueShareRecipients(db, id, due);
  enqueue(db, 'share', id, due);
}
