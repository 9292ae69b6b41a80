import type Database from 'better-sqlite3';
import type { AuditEntry } from '../../platform/audit/entry.js';
import { insertAudit } from './audit.js';
import type { RecipientRow } from '../../cloudflare/recipients/store.js';
import type { ResourceObject } from '../../cloudflare/resources/schemas.js';
import type {
  NewShare,
  RecipientCounts,
  ShareDetail,
  ShareListQuery,
  ShareView,
  SharesStore,
  Tags,
} from '../../cloudflare/shares/store.js';
import {
  ACCOUNT_PAGE_RESOURCE_SELECT,
  accountPage,
  accountPageColumns,
  groupTags,
  recipientCounts,
  shareDetail,
  toPage,
} from '../rows.js';
import { readableShare } from '../share-reader.js';
import { prepared } from './database.js';
import { writeBatcher } from './group-commit.js';
import { insertRecipient } from './recipients.js';
import { enqueue, enqueueShareRecipients } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';
import { insertResource } from './resources.js';

type Db = Database.Database;

const SHARE_COLUMNS = `s.id, s.account_id, s.organization_id, s.name, s.target_type, s.status, s.created, s.modified,
  a.name AS account_name`;

/**
 * A share with its tags and, when asked, its resources as JSON built by SQLite: an answer is one statement
 * however many shares it holds. Tags come in key order (the primary key's), resources oldest first.
 */
function detailColumns(resources: boolean): string {
  const tags = `(SELECT json_group_object(t.key, t.value) FROM share_tags t WHERE t.share_id = s.id) AS tags`;
  if (!resources) return `${SHARE_COLUMNS}, ${tags}`;
  return `${SHARE_COLUMNS}, ${tags}, (SELECT json_group_array(json_object('id', r.id, 'resource_id', r.resource_id, 'resource_type', r.resource_type, 'resource_account_id', r.resource_account_id,
    'meta', json(r.meta), 'status', r.status, 'resource_version', r.resource_version, 'created', r.created,
    'modified', r.modified) ORDER BY r.created, r.id) FROM share_resources r WHERE r.share_id = s.id) AS resources`;
}

/** Tags (in key order already: the tag table's primary key's) and meta are JSON text. */
const PAGE_CELLS = {
  tags: (cell: unknown) => JSON.parse(cell as string) as Tags,
  meta: (cell: unknown) => JSON.parse(cell as string) as ResourceObject['meta'],
};

type DetailRecord = ShareView & { tags: string | null; resources?: string | null };

function toDetail(r: DetailRecord): ShareDetail {
  const { tags, resources } = r;
  return shareDetail(
    r,
    tags === null ? {} : (JSON.parse(tags) as Tags),
    resources === undefined
      ? undefined
      : resources === null
        ? []
        : (JSON.parse(resources) as ResourceObject[]),
  );
}

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

/**
 * The positions (from 0) in @accounts of the accounts that are not members of organization @org: one
 * primary-key probe each (`+` keeps the organization index out).
 */
const NOT_MEMBERS = `SELECT j.key FROM json_each(@accounts) AS j
  WHERE NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.id = j.value AND +a.organization_id = @org)`;

export class SqliteSharesStore implements SharesStore {
  private readonly byId;
  private readonly nextSeq;
  private readonly notMembers;
  private readonly insertShare;
  private readonly insertTag;
  private readonly deleteTags;
  private readonly visible;
  private readonly visibleWithResources;
  private readonly rename;
  private readonly shareStatus;
  /** API writes on this connection commit in groups (see group-commit.ts). */
  private readonly writes;

  constructor(
    private readonly db: Db,
    private readonly timing: WorkTiming = dueNow,
  ) {
    this.writes = writeBatcher(db);
    this.byId = db.prepare<[string], ShareView>(
      `SELECT ${SHARE_COLUMNS} FROM shares s JOIN accounts a ON a.id = s.account_id WHERE s.id = ?`,
    );
    // The write lock is held for the whole create, so the counter's next value is this share's place.
    // It moves only if every recipient's account (@accounts, a JSON array) is a member: the create's
    // first statement is also its membership check.
    this.nextSeq = db
      .prepare<[{ org: string; accounts: string }], number>(
        `UPDATE organizations SET share_count = share_count + 1
         WHERE id = @org AND NOT EXISTS (${NOT_MEMBERS}) RETURNING share_count`,
      )
      .pluck();
    this.notMembers = db.prepare<[{ org: string; accounts: string }], number>(NOT_MEMBERS).pluck();
    this.insertShare = db.prepare(
      `INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified, org_seq)
       VALUES (@id, @account_id, @organization_id, @name, @target_type, @status, @created, @modified, @org_seq)`,
    );
    this.insertTag = db.prepare('INSERT INTO share_tags (share_id, key, value) VALUES (?, ?, ?)');
    this.deleteTags = db.prepare('DELETE FROM share_tags WHERE share_id = ?');
    // Owned, or received by a recipient associating or associated.
    const visible = (resources: boolean) =>
      db.prepare<[{ share: string; acct: string }], DetailRecord>(
        `SELECT ${detailColumns(resources)} FROM shares s JOIN accounts a ON a.id = s.account_id
         WHERE ${readableShare('owner-or-recipient', '@share', '@acct')}`,
      );
    this.visible = visible(false);
    this.visibleWithResources = visible(true);
    this.shareStatus = db.prepare<[string], { status: string }>('SELECT status FROM shares WHERE id = ?');
    this.rename = db.prepare(`UPDATE shares SET name = ?, modified = ? WHERE id = ? AND status = 'active'`);
  }

  async create(input: NewShare, audit: readonly AuditEntry[] = []): Promise<{ notMembers: string[] }> {
    return this.writes.run(() => {
      const org = input.share.organization_id;
      const members = { org, accounts: JSON.stringify(input.recipients.map((r) => r.account_id)) };
      const seq = this.nextSeq.get(members);
      if (seq === undefined) {
        const notMembers = this.notMembers
          .all(members)
          .map((i) => (input.recipients[i] as RecipientRow).account_id);
        if (notMembers.length === 0) throw new Error(`organization ${org} does not exist`);
        return { notMembers };
      }
      this.insertShare.run({ ...input.share, org_seq: seq });
      for (const [key, value] of Object.entries(input.tags)) this.insertTag.run(input.share.id, key, value);
      const due = this.timing.dueAt();
      for (const r of input.recipients) insertRecipient(this.db, r, due);
      for (const r of input.resources) insertResource(this.db, r);
      // An organization-targeted share's recipients are derived by the reconciler from the members.
      if (input.share.target_type === 'organization') enqueue(this.db, 'share', input.share.id, due);
      insertAudit(this.db, audit);
      return { notMembers: [] };
    });
  }

  async get(id: string): Promise<ShareView | undefined> {
    return this.byId.get(id);
  }

  async visibleTo(
    accountId: string,
    shareId: string,
    includeResources: boolean,
  ): Promise<ShareDetail | undefined> {
    const row = (includeResources ? this.visibleWithResources : this.visible).get({
      share: shareId,
      acct: accountId,
    });
    return row && toDetail(row);
  }

  async list(q: ShareListQuery): Promise<{ rows: ShareDetail[]; total: number }> {
    return 'accountId' in q.scope
      ? this.listForAccount(q.scope.accountId, q)
      : this.listForOrganization(q.scope.organizationId, q);
  }

  /** Reads share_visibility, whose rows carry every filter and sort column: a page never visits the rest. */
  private listForAccount(accountId: string, q: ShareListQuery): { rows: ShareDetail[]; total: number } {
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
    const order = (name: string, created: string, id: string) =>
      q.order === 'name'
        ? `${name} ${dir}, ${created} ${dir}, ${id} ${dir}`
        : `${created} ${dir}, ${id} ${dir}`;
    const filter = `FROM share_visibility v WHERE ${where.join(' AND ')}`;
    const withResources = q.includeResources === true;
    // The exact total and the page in one statement, the page's tags from its visibility rows and its
    // resources as rows beside their shares (not JSON built by SQLite and parsed again here); the page's
    // order keys ride on every row. An empty page is one row with only the total.
    const rows = this.statement(
      `SELECT ${accountPageColumns(withResources)}
       FROM (SELECT COUNT(*) AS total ${filter}) c LEFT JOIN (
         SELECT pv.share_id AS k_id, pv.created AS k_created, pv.name AS k_name, ${SHARE_COLUMNS}, pv.tags
           ${withResources ? `, ${ACCOUNT_PAGE_RESOURCE_SELECT}` : ''}
         FROM (SELECT v.share_id, v.created, v.name, v.tags ${filter} ORDER BY ${order('v.name', 'v.created', 'v.share_id')}
               LIMIT @limit OFFSET @offset) pv
         JOIN shares s ON s.id = pv.share_id JOIN accounts a ON a.id = s.account_id
         ${withResources ? 'LEFT JOIN share_resources r ON r.share_id = pv.share_id' : ''}) p ON 1
       ORDER BY ${order('p.k_name', 'p.k_created', 'p.k_id')}${withResources ? ', p.r_created, p.r_id' : ''}`,
    )
      .raw(true)
      .all({ ...args, limit: q.limit, offset: q.offset }) as unknown[][];
    return accountPage(rows, withResources, PAGE_CELLS);
  }

  private listForOrganization(
    organizationId: string,
    q: ShareListQuery,
  ): { rows: ShareDetail[]; total: number } {
    // Every share of an organization is sent by it; none is received from outside.
    if (q.kind === 'received') return { rows: [], total: 0 };
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    const columns = detailColumns(q.includeResources === true);
    if (!q.status && !q.targetType && !q.resourceTypes?.length && q.order === 'created') {
      // Unfiltered, in creation order: the page is a range of share numbers, found at any depth at once,
      // and the total is the organization's counter.
      const range =
        dir === 'ASC'
          ? '@offset + 1 AND @offset + @limit'
          : 'o.share_count - @offset - @limit + 1 AND o.share_count - @offset';
      const rows = this.statement(
        `SELECT o.share_count AS total, ${columns} FROM organizations o
         LEFT JOIN shares s ON s.organization_id = o.id AND s.org_seq BETWEEN ${range}
         LEFT JOIN accounts a ON a.id = s.account_id
         WHERE o.id = @org ORDER BY s.org_seq ${dir}`,
      ).all({ org: organizationId, limit: q.limit, offset: q.offset }) as (DetailRecord & {
        total: number;
      })[];
      return toPage(rows, toDetail);
    }
    const args: Record<string, unknown> = { org: organizationId };
    const where = ['s.organization_id = @org', ...shareFilters('s', 'id', q, args)];
    const orderBy = (t: string) =>
      q.order === 'name' ? `${t}.name ${dir}, ${t}.org_seq ${dir}` : `${t}.org_seq ${dir}`;
    const from = `FROM shares s WHERE ${where.join(' AND ')}`;
    const rows = this.statement(
      `SELECT c.total, p.* FROM (SELECT COUNT(*) AS total ${from}) c LEFT JOIN (
         SELECT ${columns}, s.org_seq
         FROM (SELECT s.id ${from} ORDER BY ${orderBy('s')} LIMIT @limit OFFSET @offset) ps
         JOIN shares s ON s.id = ps.id JOIN accounts a ON a.id = s.account_id) p ON 1
       ORDER BY ${orderBy('p')}`,
    ).all({ ...args, limit: q.limit, offset: q.offset }) as (DetailRecord & {
      total: number;
      org_seq?: number;
    })[];
    return toPage(rows, toDetail);
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
    return this.writes.run(() => {
      if (this.rename.run(name, modified, id).changes === 0) return false;
      if (tags) {
        this.deleteTags.run(id);
        for (const [key, value] of Object.entries(tags)) this.insertTag.run(id, key, value);
      }
      insertAudit(this.db, audit);
      return true;
    });
  }

  async markDeleting(id: string, modified: string, audit: readonly AuditEntry[] = []): Promise<boolean> {
    return this.writes.run(() => {
      if (this.shareStatus.get(id)?.status !== 'active') return false;
      startShareDelete(this.db, id, modified, this.timing.dueAt());
      insertAudit(this.db, audit);
      return true;
    });
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
