import type { AuditEntry } from '../../platform/audit/entry.js';
import { auditInsertSql, auditJson, insertAudit } from './audit.js';
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
import type pg from 'pg';
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
import { named, transaction } from './database.js';
import { shareIsActive } from './recipients.js';
import { RESOURCE_COLUMNS } from './resources.js';
import { enqueue, enqueueShareRecipients, ON_CONFLICT } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

const SHARE_COLUMNS = `s.id, s.account_id, s.organization_id, s.name, s.target_type, s.status, s.created, s.modified,
  a.name AS account_name`;

const BY_ID = `SELECT ${SHARE_COLUMNS} FROM shares s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1`;

/** The API's timestamp form, for timestamps inside JSON built by PostgreSQL (see `formatTimestamptz`). */
const jsonTime = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * A share with its tags and, when asked, its resources as JSON built by PostgreSQL: an answer is one round
 * trip however many shares it holds. Tags in binary key order (as SQLite's key index), resources oldest first.
 */
function detailColumns(resources: boolean): string {
  const tags = `(SELECT json_object_agg(t.key, t.value ORDER BY t.key COLLATE "C") FROM share_tags t
    WHERE t.share_id = s.id) AS tags`;
  if (!resources) return `${SHARE_COLUMNS}, ${tags}`;
  return `${SHARE_COLUMNS}, ${tags}, (SELECT json_agg(json_build_object('id', r.id, 'resource_id', r.resource_id, 'resource_type', r.resource_type, 'resource_account_id', r.resource_account_id,
    'meta', r.meta, 'status', r.status, 'resource_version', r.resource_version, 'created', ${jsonTime('r.created')},
    'modified', ${jsonTime('r.modified')}) ORDER BY r.created, r.id) FROM share_resources r
    WHERE r.share_id = s.id) AS resources`;
}

/** Owned, or received by a recipient associating or associated. */
const visible = (resources: boolean) => `SELECT ${detailColumns(resources)}
  FROM shares s JOIN accounts a ON a.id = s.account_id WHERE ${readableShare('owner-or-recipient', '$1', '$2')}`;
const VISIBLE = visible(false);
const VISIBLE_WITH_RESOURCES = visible(true);

type DetailRecord = ShareView & { tags: Tags | null; resources?: ResourceObject[] | null };

function toDetail(r: DetailRecord): ShareDetail {
  return shareDetail(r, r.tags ?? {}, r.resources === undefined ? undefined : (r.resources ?? []));
}

/** jsonb comes parsed from the driver: tags put back in key order, meta as it is. */
const PAGE_CELLS = {
  tags: (cell: unknown) => inKeyOrder((cell as Tags | null) ?? {}),
  meta: (cell: unknown) => cell as ResourceObject['meta'],
};

/** Astral characters: the only ones whose UTF-16 order is not their UTF-8 byte order. */
const SURROGATE = /[\uD800-\uDFFF]/;
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** jsonb keeps keys shortest first; the API answers tags in binary key order, as the tag tables hold them. */
function inKeyOrder(tags: Tags): Tags {
  const keys = Object.keys(tags);
  if (keys.length < 2) return tags;
  keys.sort(keys.some((k) => SURROGATE.test(k)) ? byBytes : undefined);
  const out: Tags = {};
  for (const k of keys) out[k] = tags[k] as string;
  return out;
}

/** The positions (from 1) in $10 of the recipients whose account is not a member of organization $3. */
const NOT_MEMBERS = `SELECT r.ordinality::int FROM json_populate_recordset(NULL::share_recipients, $10::json)
    WITH ORDINALITY AS r
  WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = r.account_id AND a.organization_id = $3)`;

/**
 * A whole create in one statement, so one round trip and its own transaction: the share (its number is
 * taken at commit by the deferred trigger `shares_org_seq`, so the organization's row is locked only from
 * there to the commit: concurrent creates in one organization no longer wait for each other's whole
 * statement), then its tags ($9, a JSON object), recipients and their work ($10, JSON rows; due at $12),
 * resources ($11), the share's own work when it targets the organization, and the audit entries ($13).
 * The visibility triggers fire at the end of the statement and read the tags from the table, so the
 * share's and its recipients' rows are written with their tags. Nothing is written when the
 * organization is gone or a recipient's account is not one of its members (no row in `sh`); the answer
 * then names those recipients.
 */
const CREATE_SHARE = `WITH sh AS (
    INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM organizations WHERE id = $3 AND NOT EXISTS (${NOT_MEMBERS})
    RETURNING id),
  tg AS (INSERT INTO share_tags (share_id, key, value)
    SELECT sh.id, t.key, t.value FROM sh, json_each_text($9::json) AS t),
  rc AS (INSERT INTO share_recipients (id, share_id, account_id, desired_status, status, created, modified)
    SELECT r.id, sh.id, r.account_id, r.desired_status, r.status, r.created, r.modified
    FROM sh, json_populate_recordset(NULL::share_recipients, $10::json) AS r RETURNING id),
  rw AS (INSERT INTO reconcile_work (kind, id, due_at) SELECT 'recipient', rc.id, $12::bigint FROM rc ${ON_CONFLICT}),
  rs AS (INSERT INTO share_resources (${RESOURCE_COLUMNS})
    SELECT r.id, sh.id, r.resource_id, r.resource_type, r.resource_account_id, r.meta, r.status,
      r.resource_version, r.created, r.modified
    FROM sh, json_populate_recordset(NULL::share_resources, $11::json) AS r),
  sw AS (INSERT INTO reconcile_work (kind, id, due_at)
    SELECT 'share', sh.id, $12::bigint FROM sh WHERE $5 = 'organization' ${ON_CONFLICT}),
  au AS (${auditInsertSql('$13')} WHERE EXISTS (SELECT 1 FROM sh))
  SELECT COUNT(*) AS n, CASE WHEN COUNT(*) = 0 THEN ARRAY(${NOT_MEMBERS}) END AS not_members FROM sh`;
/** Inserts every tag of one share at once: $2 keys, $3 values, in the same order. */
const INSERT_TAGS = `INSERT INTO share_tags (share_id, key, value)
  SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t (k, v)`;
const DELETE_TAGS = 'DELETE FROM share_tags WHERE share_id = $1';
const RENAME = `UPDATE shares SET name = $1, modified = $2 WHERE id = $3 AND status = 'active'`;
const MARK_SHARE_DELETING = `UPDATE shares SET status = 'deleting', modified = $1 WHERE id = $2 AND status = 'active'`;
const MARK_RECIPIENTS_DISASSOCIATING = `UPDATE share_recipients
  SET desired_status = 'disassociated', status = 'disassociating', modified = $1
  WHERE share_id = $2 AND status <> 'disassociated'`;
const MARK_RESOURCES_DELETING = `UPDATE share_resources SET status = 'deleting', modified = $1
  WHERE share_id = $2 AND status = 'active'`;
// Tags come back in key order (binary, as SQLite's primary-key index yields them), so objects match.
const TAGS_OF = `SELECT share_id, key, value FROM share_tags WHERE share_id = ANY($1) ORDER BY share_id, key COLLATE "C"`;
const RECIPIENT_COUNTS_OF = `SELECT share_id, status, COUNT(*) AS n FROM share_recipients
  WHERE share_id = ANY($1) GROUP BY share_id, status`;

/**
 * An unfiltered organization page in creation order: a range of share numbers ($2 offset, $3 limit),
 * found at any depth at once, and the total from the organization's counter, in one round trip.
 */
const bySeq = (dir: 'ASC' | 'DESC') => {
  const range = dir === 'ASC' ? '$2 + 1 AND $2 + $3' : 'o.share_count - $2 - $3 + 1 AND o.share_count - $2';
  return `SELECT o.share_count AS total, ${detailColumns(false)} FROM organizations o
    LEFT JOIN shares s ON s.organization_id = o.id AND s.org_seq BETWEEN ${range}
    LEFT JOIN accounts a ON a.id = s.account_id
    WHERE o.id = $1 ORDER BY s.org_seq ${dir}`;
};
const BY_SEQ_ASC = bySeq('ASC');
const BY_SEQ_DESC = bySeq('DESC');

/**
 * The filters both lists share, on a row alias whose table has `status`, `target_type` and the share id
 * in `idColumn` (shares as `s`, share_visibility as `v`); `param` binds a value and names its placeholder.
 */
function shareFilters(
  alias: 's' | 'v',
  idColumn: string,
  q: ShareListQuery,
  param: (value: unknown) => string,
): string[] {
  const where: string[] = [];
  if (q.status) where.push(`${alias}.status = ${param(q.status)}`);
  if (q.targetType) where.push(`${alias}.target_type = ${param(q.targetType)}`);
  if (q.resourceTypes?.length) {
    // Shares holding a live resource of one of the types.
    where.push(`EXISTS (SELECT 1 FROM share_resources sr WHERE sr.share_id = ${alias}.${idColumn}
      AND sr.status <> 'deleted' AND sr.resource_type = ANY(${param(q.resourceTypes)}::text[]))`);
  }
  return where;
}

async function insertTags(client: pg.PoolClient, shareId: string, tags: Tags): Promise<void> {
  const entries = Object.entries(tags);
  if (entries.length === 0) return;
  await client.query(named(INSERT_TAGS, [shareId, entries.map(([k]) => k), entries.map(([, v]) => v)]));
}

export class PgSharesStore implements SharesStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly timing: WorkTiming = dueNow,
  ) {}

  async create(input: NewShare, audit: readonly AuditEntry[] = []): Promise<{ notMembers: string[] }> {
    const s = input.share;
    const { rows } = await this.pool.query<{ n: number; not_members: number[] | null }>(
      named(CREATE_SHARE, [
        ...[s.id, s.account_id, s.organization_id, s.name, s.target_type, s.status, s.created, s.modified],
        JSON.stringify(input.tags),
        JSON.stringify(input.recipients),
        JSON.stringify(input.resources),
        this.timing.dueAt(),
        auditJson(audit),
      ]),
    );
    const [row] = rows;
    if (row?.n === 1) return { notMembers: [] };
    // Positions, not ids: the ids come back as the body spelled them, not padded to char(32).
    const notMembers = (row?.not_members ?? []).map(
      (n) => (input.recipients[n - 1] as RecipientRow).account_id,
    );
    if (notMembers.length === 0) throw new Error(`organization ${s.organization_id} does not exist`);
    return { notMembers };
  }

  async get(id: string): Promise<ShareView | undefined> {
    return (await this.pool.query<ShareView>(named(BY_ID, [id]))).rows[0];
  }

  async visibleTo(
    accountId: string,
    shareId: string,
    includeResources: boolean,
  ): Promise<ShareDetail | undefined> {
    const text = includeResources ? VISIBLE_WITH_RESOURCES : VISIBLE;
    const row = (await this.pool.query<DetailRecord>(named(text, [shareId, accountId]))).rows[0];
    return row && toDetail(row);
  }

  async list(q: ShareListQuery): Promise<{ rows: ShareDetail[]; total: number }> {
    return 'accountId' in q.scope
      ? this.listForAccount(q.scope.accountId, q)
      : this.listForOrganization(q.scope.organizationId, q);
  }

  /**
   * Reads share_visibility, whose rows carry every filter and sort column and the share's tags: a page never
   * visits the rest. The total, the page and (when asked) its resources come in one statement: a row per
   * resource, its share's columns beside it, not JSON built by PostgreSQL, which cost the database more
   * than the rest of the page. Without filters other than the kind, the text is one of 16 (kind or not,
   * direction, order, resources) and runs as a prepared statement, so it is not planned on every request.
   */
  private async listForAccount(
    accountId: string,
    q: ShareListQuery,
  ): Promise<{ rows: ShareDetail[]; total: number }> {
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const where = [`v.account_id = ${param(accountId)}`];
    if (q.kind) where.push(`v.kind = ${param(q.kind)}`);
    const constant = where.length;
    where.push(...shareFilters('v', 'share_id', q, param));
    for (const t of q.tags ?? []) {
      where.push(
        t.value === undefined
          ? `v.tags ? ${param(t.key)}`
          : `v.tags @> jsonb_build_object(${param(t.key)}::text, ${param(t.value)}::text)`,
      );
    }
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    // Names compare byte by byte, as SQLite's BINARY collation does.
    const order = (name: string, created: string, id: string) =>
      q.order === 'name'
        ? `${name} COLLATE "C" ${dir}, ${created} ${dir}, ${id} ${dir}`
        : `${created} ${dir}, ${id} ${dir}`;
    const filter = `FROM share_visibility v WHERE ${where.join(' AND ')}`;
    const n = params.length;
    const withResources = q.includeResources === true;
    // The page's order keys ride on every row, so its resources sort right after their share.
    const text = `WITH pv AS MATERIALIZED (SELECT v.share_id, v.created, v.name, v.tags ${filter}
        ORDER BY ${order('v.name', 'v.created', 'v.share_id')} LIMIT $${n + 1} OFFSET $${n + 2})
      SELECT ${accountPageColumns(withResources)}
      FROM (SELECT COUNT(*) AS total ${filter}) c LEFT JOIN LATERAL (
        SELECT pv.share_id AS k_id, pv.created AS k_created, pv.name AS k_name, ${SHARE_COLUMNS}, pv.tags
          ${withResources ? `, ${ACCOUNT_PAGE_RESOURCE_SELECT}` : ''}
        FROM pv JOIN shares s ON s.id = pv.share_id JOIN accounts a ON a.id = s.account_id
        ${withResources ? 'LEFT JOIN share_resources r ON r.share_id = pv.share_id' : ''}) p ON true
      ORDER BY ${order('p.k_name', 'p.k_created', 'p.k_id')}${withResources ? ', p.r_created, p.r_id' : ''}`;
    const values = [...params, q.limit, q.offset];
    const { rows } = await this.pool.query<unknown[]>({
      ...(where.length === constant ? named(text, values) : { text, values }),
      rowMode: 'array',
    });
    return accountPage(rows, withResources, PAGE_CELLS);
  }

  private async listForOrganization(
    organizationId: string,
    q: ShareListQuery,
  ): Promise<{ rows: ShareDetail[]; total: number }> {
    // Every share of an organization is sent by it; none is received from outside.
    if (q.kind === 'received') return { rows: [], total: 0 };
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    if (!q.status && !q.targetType && !q.resourceTypes?.length && q.order === 'created') {
      const { rows } = await this.pool.query<DetailRecord & { total: number }>(
        named(dir === 'ASC' ? BY_SEQ_ASC : BY_SEQ_DESC, [organizationId, q.offset, q.limit]),
      );
      return toPage(rows, toDetail);
    }
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const where = [`s.organization_id = ${param(organizationId)}`, ...shareFilters('s', 'id', q, param)];
    const orderBy = (t: string) =>
      q.order === 'name' ? `${t}.name COLLATE "C" ${dir}, ${t}.org_seq ${dir}` : `${t}.org_seq ${dir}`;
    const from = `FROM shares s WHERE ${where.join(' AND ')}`;
    const n = params.length;
    const { rows } = await this.pool.query<DetailRecord & { total: number; org_seq?: number }>(
      `SELECT c.total, p.* FROM (SELECT COUNT(*) AS total ${from}) c LEFT JOIN LATERAL (
         SELECT ${detailColumns(q.includeResources === true)}, s.org_seq
         FROM (SELECT s.id ${from} ORDER BY ${orderBy('s')} LIMIT $${n + 1} OFFSET $${n + 2}) ps
         JOIN shares s ON s.id = ps.id JOIN accounts a ON a.id = s.account_id) p ON true
       ORDER BY ${orderBy('p')}`,
      [...params, q.limit, q.offset],
    );
    return toPage(rows, toDetail);
  }

  async tagsOf(shareIds: string[]): Promise<Map<string, Tags>> {
    if (shareIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ share_id: string; key: string; value: string }>(
      named(TAGS_OF, [shareIds]),
    );
    return groupTags(rows);
  }

  async recipientCountsOf(shareIds: string[]): Promise<Map<string, RecipientCounts>> {
    if (shareIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ share_id: string; status: keyof RecipientCounts; n: number }>(
      named(RECIPIENT_COUNTS_OF, [shareIds]),
    );
    return recipientCounts(shareIds, rows);
  }

  async update(
    id: string,
    name: string,
    tags: Tags | undefined,
    modified: string,
    audit: readonly AuditEntry[] = [],
  ): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      if (!(await shareIsActive(client, id))) return false;
      await client.query(named(RENAME, [name, modified, id]));
      if (tags) {
        await client.query(named(DELETE_TAGS, [id]));
        await insertTags(client, id, tags);
      }
      await insertAudit(client, audit);
      return true;
    });
  }

  async markDeleting(id: string, modified: string, audit: readonly AuditEntry[] = []): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      if (!(await shareIsActive(client, id))) return false;
      await startShareDelete(client, id, modified, this.timing.dueAt());
      await insertAudit(client, audit);
      return true;
    });
  }
}

/**
 * Starts the asynchronous delete of an active share in the caller's transaction: the share goes
 * `deleting`, its recipients `disassociating`, its live resources `deleting`, and the work is queued.
 */
export async function startShareDelete(
  client: pg.PoolClient,
  id: string,
  modified: string,
  due: number,
): Promise<void> {
  await client.query(named(MARK_SHARE_DELETING, [modified, id]));
  await client.query(named(MARK_RECIPIENTS_DISASSOCIATING, [modified, id]));
  await client.query(named(MARK_RESOURCES_DELETING, [modified, id]));
  await enqueueShareRecipients(client, id, due);
  await enqueue(client, 'share', id, due);
}
