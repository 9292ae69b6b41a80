import type { AuditEntry } from '../../audit/entry.js';
import { insertAudit } from './audit.js';
import { groupBy, groupTags, recipientCounts } from '../rows.js';
import type pg from 'pg';
import type { ResourceRow } from '../../resources/store.js';
import type {
  NewShare,
  RecipientCounts,
  ShareListQuery,
  ShareView,
  SharesStore,
  Tags,
} from '../../shares/store.js';
import { named, transaction } from './database.js';
import { insertRecipients, shareIsActive } from './recipients.js';
import { insertResource, RESOURCE_COLUMNS } from './resources.js';
import { enqueue, enqueueShareRecipients } from './work.js';
import { dueNow, type WorkTiming } from '../../reconciler/timing.js';

const SHARE_COLUMNS = `s.id, s.account_id, s.organization_id, s.name, s.target_type, s.status, s.created, s.modified,
  a.name AS account_name`;

const BY_ID = `SELECT ${SHARE_COLUMNS} FROM shares s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1`;
/**
 * Takes the organization's next share number: the row lock it holds until commit serialises creates
 * within one organization, so numbers follow commit order with no gaps.
 */
const INSERT_SHARE = `WITH seq AS (
    UPDATE organizations SET share_count = share_count + 1 WHERE id = $3 RETURNING share_count)
  INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified, org_seq)
  SELECT $1, $2, $3, $4, $5, $6, $7, $8, share_count FROM seq`;
/** Inserts every tag of one share at once: $2 keys, $3 values, in the same order. */
const INSERT_TAGS = `INSERT INTO share_tags (share_id, key, value)
  SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t (k, v)`;
const DELETE_TAGS = 'DELETE FROM share_tags WHERE share_id = $1';
const ACTIVE_RECIPIENT = `SELECT 1 AS one FROM share_recipients
  WHERE share_id = $1 AND account_id = $2 AND status IN ('associating', 'associated')`;
const RENAME = `UPDATE shares SET name = $1, modified = $2 WHERE id = $3 AND status = 'active'`;
const MARK_SHARE_DELETING = `UPDATE shares SET status = 'deleting', modified = $1 WHERE id = $2 AND status = 'active'`;
const MARK_RECIPIENTS_DISASSOCIATING = `UPDATE share_recipients
  SET desired_status = 'disassociated', status = 'disassociating', modified = $1
  WHERE share_id = $2 AND status <> 'disassociated'`;
const MARK_RESOURCES_DELETING = `UPDATE share_resources SET status = 'deleting', modified = $1
  WHERE share_id = $2 AND status = 'active'`;
// Tags come back in key order (binary, as SQLite's primary-key index yields them), so objects match.
const TAGS_OF = `SELECT share_id, key, value FROM share_tags WHERE share_id = ANY($1) ORDER BY share_id, key COLLATE "C"`;
const RESOURCES_OF = `SELECT ${RESOURCE_COLUMNS} FROM share_resources WHERE share_id = ANY($1) ORDER BY created, id`;
const RECIPIENT_COUNTS_OF = `SELECT share_id, status, COUNT(*) AS n FROM share_recipients
  WHERE share_id = ANY($1) GROUP BY share_id, status`;

const SHARE_COUNT = 'SELECT share_count AS n FROM organizations WHERE id = $1';
const BY_SEQ = `SELECT ${SHARE_COLUMNS} FROM shares s JOIN accounts a ON a.id = s.account_id
  WHERE s.organization_id = $1 AND s.org_seq BETWEEN $2 AND $3 ORDER BY s.org_seq`;
const BY_SEQ_ASC = `${BY_SEQ} ASC`;
const BY_SEQ_DESC = `${BY_SEQ} DESC`;

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

  async create(input: NewShare, audit: readonly AuditEntry[] = []): Promise<void> {
    const s = input.share;
    await transaction(this.pool, async (client) => {
      await client.query(
        named(INSERT_SHARE, [
          s.id,
          s.account_id,
          s.organization_id,
          s.name,
          s.target_type,
          s.status,
          s.created,
          s.modified,
        ]),
      );
      await insertTags(client, s.id, input.tags);
      const due = this.timing.dueAt();
      await insertRecipients(client, input.recipients, due);
      for (const r of input.resources) await insertResource(client, r);
      // An organization-targeted share's recipients are derived by the reconciler from the members.
      if (s.target_type === 'organization') await enqueue(client, 'share', s.id, due);
      await insertAudit(client, audit);
    });
  }

  async get(id: string): Promise<ShareView | undefined> {
    return (await this.pool.query<ShareView>(named(BY_ID, [id]))).rows[0];
  }

  async isActiveRecipient(shareId: string, accountId: string): Promise<boolean> {
    return (await this.pool.query(named(ACTIVE_RECIPIENT, [shareId, accountId]))).rows.length > 0;
  }

  async list(q: ShareListQuery): Promise<{ rows: ShareView[]; total: number }> {
    return 'accountId' in q.scope
      ? this.listForAccount(q.scope.accountId, q)
      : this.listForOrganization(q.scope.organizationId, q);
  }

  /** Reads share_visibility, whose rows carry every filter and sort column: a page never visits the rest. */
  private async listForAccount(
    accountId: string,
    q: ShareListQuery,
  ): Promise<{ rows: ShareView[]; total: number }> {
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const where = [`v.account_id = ${param(accountId)}`];
    if (q.kind) where.push(`v.kind = ${param(q.kind)}`);
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
    const order = (t: string) =>
      q.order === 'name'
        ? `${t}.name COLLATE "C" ${dir}, ${t}.created ${dir}, ${t}.share_id ${dir}`
        : `${t}.created ${dir}, ${t}.share_id ${dir}`;
    const filter = `FROM share_visibility v WHERE ${where.join(' AND ')}`;
    const total = Number(
      (await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n ${filter}`, params)).rows[0]?.n ?? 0,
    );
    if (q.offset >= total) return { rows: [], total };
    const n = params.length;
    const { rows } = await this.pool.query<ShareView>(
      `SELECT ${SHARE_COLUMNS}
       FROM (SELECT v.share_id, v.created, v.name ${filter} ORDER BY ${order('v')}
             LIMIT $${n + 1} OFFSET $${n + 2}) p
       JOIN shares s ON s.id = p.share_id JOIN accounts a ON a.id = s.account_id
       ORDER BY ${order('p')}`,
      [...params, q.limit, q.offset],
    );
    return { rows, total };
  }

  private async listForOrganization(
    organizationId: string,
    q: ShareListQuery,
  ): Promise<{ rows: ShareView[]; total: number }> {
    // Every share of an organization is sent by it; none is received from outside.
    if (q.kind === 'received') return { rows: [], total: 0 };
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    if (!q.status && !q.targetType && !q.resourceTypes?.length && q.order === 'created') {
      // Unfiltered, in creation order: the page is a range of share numbers, found at any depth at once.
      const total = Number(
        (await this.pool.query<{ n: string }>(named(SHARE_COUNT, [organizationId]))).rows[0]?.n ?? 0,
      );
      if (q.offset >= total) return { rows: [], total };
      const [from, to] =
        dir === 'ASC'
          ? [q.offset + 1, q.offset + q.limit]
          : [total - q.offset - q.limit + 1, total - q.offset];
      const { rows } = await this.pool.query<ShareView>(
        named(dir === 'ASC' ? BY_SEQ_ASC : BY_SEQ_DESC, [organizationId, from, to]),
      );
      return { rows, total };
    }
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const where = [`s.organization_id = ${param(organizationId)}`, ...shareFilters('s', 'id', q, param)];
    const orderBy = q.order === 'name' ? `s.name COLLATE "C" ${dir}, s.org_seq ${dir}` : `s.org_seq ${dir}`;
    const from = `FROM shares s WHERE ${where.join(' AND ')}`;
    const total = Number(
      (await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n ${from}`, params)).rows[0]?.n ?? 0,
    );
    if (q.offset >= total) return { rows: [], total };
    const n = params.length;
    const { rows } = await this.pool.query<ShareView>(
      `SELECT ${SHARE_COLUMNS}
       FROM (SELECT s.id ${from} ORDER BY ${orderBy} LIMIT $${n + 1} OFFSET $${n + 2}) p
       JOIN shares s ON s.id = p.id JOIN accounts a ON a.id = s.account_id ORDER BY ${orderBy}`,
      [...params, q.limit, q.offset],
    );
    return { rows, total };
  }

  async tagsOf(shareIds: string[]): Promise<Map<string, Tags>> {
    if (shareIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ share_id: string; key: string; value: string }>(
      named(TAGS_OF, [shareIds]),
    );
    return groupTags(rows);
  }

  async resourcesOf(shareIds: string[]): Promise<Map<string, ResourceRow[]>> {
    if (shareIds.length === 0) return new Map();
    const { rows } = await this.pool.query<ResourceRow>(named(RESOURCES_OF, [shareIds]));
    return groupBy(rows, (r) => r.share_id);
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
