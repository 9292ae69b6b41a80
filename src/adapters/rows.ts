import type { ResourceObject } from '../cloudflare/resources/schemas.js';
import type {
  RecipientFound,
  RecipientPage,
  RecipientResourceRow,
  RecipientRow,
} from '../cloudflare/recipients/store.js';
import type { RecipientCounts, ShareDetail, ShareView, Tags } from '../cloudflare/shares/store.js';

/** Row shaping shared by the SQLite and PostgreSQL stores: the SQL differs, the assembly does not. */

export function groupTags(
  rows: readonly { share_id: string; key: string; value: string }[],
): Map<string, Tags> {
  const out = new Map<string, Tags>();
  for (const r of rows) {
    let tags = out.get(r.share_id);
    if (!tags) out.set(r.share_id, (tags = {}));
    tags[r.key] = r.value;
  }
  return out;
}

/** Per-share recipient counts, with zeros for shares (and statuses) that have no recipients. */
export function recipientCounts(
  shareIds: readonly string[],
  rows: readonly { share_id: string; status: keyof RecipientCounts; n: number }[],
): Map<string, RecipientCounts> {
  const out = new Map<string, RecipientCounts>();
  for (const id of shareIds)
    out.set(id, { associating: 0, associated: 0, disassociating: 0, disassociated: 0 });
  for (const r of rows) {
    const counts = out.get(r.share_id);
    if (counts) counts[r.status] = r.n;
  }
  return out;
}

/**
 * Rows of `SELECT c.total, p.* FROM (count) c LEFT JOIN (page) p`: the exact total and the page in one
 * statement; an empty page is one row with a NULL id and only the total.
 */
export function toPage<R extends { id: unknown }, D>(
  rows: (R & { total: number })[],
  detail: (row: R) => D,
): { rows: D[]; total: number } {
  const total = rows[0]?.total ?? 0;
  const page: D[] = [];
  // The row goes as it is (`total` and all): `detail` picks its fields, so no copy is made here.
  for (const r of rows) if (r.id !== null) page.push(detail(r));
  return { rows: page, total };
}

/**
 * A share row as an answer shows it, built once, field by field (a rest-spread copy of each row cost
 * more than the rest of the mapping); resources come from the database already in the API's shape.
 */
export function shareDetail(r: ShareView, tags: Tags, resources: ResourceObject[] | undefined): ShareDetail {
  const detail: ShareDetail = {
    id: r.id,
    account_id: r.account_id,
    organization_id: r.organization_id,
    name: r.name,
    target_type: r.target_type,
    status: r.status,
    created: r.created,
    modified: r.modified,
    account_name: r.account_name,
    tags,
  };
  if (resources !== undefined) detail.resources = resources;
  return detail;
}

/** A recipient's resources as the database's JSON built them: the recipient's id is its row's. */
export type RecipientResourceJson = Omit<RecipientResourceRow, 'recipient_id'>;

/**
 * Splits rows read with each recipient's resources (a `resources` column) into the recipients and, when
 * asked, their resources by recipient id; `resourcesOf` reads the column as the dialect returns it.
 */
export function withRecipientResources<R extends RecipientRow & { resources?: unknown }>(
  records: R[],
  includeResources: boolean,
  resourcesOf: (record: R) => RecipientResourceJson[],
): { rows: RecipientRow[]; resources?: Map<string, RecipientResourceRow[]> } {
  const rows = records.map(({ resources: _resources, ...row }): RecipientRow => row);
  if (!includeResources) return { rows };
  const resources = new Map(
    records.map((r) => [r.id, resourcesOf(r).map((x) => ({ recipient_id: r.id, ...x }))]),
  );
  return { rows, resources };
}

/** A page of recipients read with its share check (see `checkedPage`), with their resources when asked. */
export function recipientPage<R extends RecipientRow & { resources?: unknown }>(
  rows: (R & { total: number })[],
  includeResources: boolean,
  resourcesOf: (record: R) => RecipientResourceJson[],
): RecipientPage | undefined {
  const found = checkedPage(rows, (r) => r);
  return (
    found && { total: found.total, ...withRecipientResources(found.rows, includeResources, resourcesOf) }
  );
}

/**
 * One recipient read with its share check: undefined when no row came back (the share is hidden), no
 * `row` when the share has no such recipient (the LEFT JOIN's columns are null).
 */
export function recipientFound<R extends RecipientRow & { resources?: unknown }>(
  record: R | undefined,
  includeResources: boolean,
  resourcesOf: (record: R) => RecipientResourceJson[],
): RecipientFound | undefined {
  if (!record) return undefined;
  if (record.id === null) return {};
  const {
    rows: [row],
    resources,
  } = withRecipientResources([record], includeResources, resourcesOf);
  return { ...(row ? { row } : {}), ...(resources ? { resources } : {}) };
}

/**
 * `toPage` for a page read with its share check: undefined when no row came back (the share is hidden).
 * As there, each row goes to `detail` as it is, `total` and all.
 */
export function checkedPage<R extends { id: unknown }, D>(
  rows: (R & { total: number })[],
  detail: (row: R) => D,
): { rows: D[]; total: number } | undefined {
  return rows.length === 0 ? undefined : toPage(rows, detail);
}

/** The resource columns of an account page's rows, in the order `accountPage` reads them. */
const ACCOUNT_PAGE_RESOURCE_COLUMNS: readonly (keyof ResourceObject)[] = [
  'id',
  'resource_id',
  'resource_type',
  'resource_account_id',
  'meta',
  'status',
  'resource_version',
  'created',
  'modified',
];

/**
 * The page subquery's resource columns, from `share_resources r` joined on the share (every resource, deleted
 * ones too, as a share's own read shows them), `r_` before each name.
 */
export const ACCOUNT_PAGE_RESOURCE_SELECT = ACCOUNT_PAGE_RESOURCE_COLUMNS.map((c) => `r.${c} AS r_${c}`).join(
  ', ',
);

/**
 * An account page's columns in the order `accountPage` reads them: the count subquery is `c`, the page
 * subquery `p` (its resource columns only when asked for).
 */
export function accountPageColumns(withResources: boolean): string {
  const share = `c.total, p.id, p.account_id, p.organization_id, p.name, p.target_type, p.status, p.created,
    p.modified, p.account_name, p.tags`;
  return withResources
    ? `${share}, ${ACCOUNT_PAGE_RESOURCE_COLUMNS.map((c) => `p.r_${c}`).join(', ')}`
    : share;
}

/** How a store's driver hands over the page's tags and each resource's meta. */
export interface AccountPageCells {
  tags(cell: unknown): Tags;
  meta(cell: unknown): ResourceObject['meta'];
}

/**
 * An account page read as arrays (no object per row from the driver): a row per resource of each share,
 * its share's columns repeated (one row with empty resource columns for a share without any), in page
 * order and each share's resources oldest first; an empty page is one row with only the total.
 */
export function accountPage(
  rows: readonly (readonly unknown[])[],
  withResources: boolean,
  cells: AccountPageCells,
): { rows: ShareDetail[]; total: number } {
  const total = (rows[0]?.[0] as number | undefined) ?? 0;
  const page: ShareDetail[] = [];
  let resources: ResourceObject[] = [];
  let last: unknown = null;
  for (const r of rows) {
    if (r[1] !== null && r[1] !== last) {
      last = r[1];
      const detail: ShareDetail = {
        id: r[1] as string,
        account_id: r[2] as string,
        organization_id: r[3] as string,
        name: r[4] as string,
        target_type: r[5] as ShareDetail['target_type'],
        status: r[6] as ShareDetail['status'],
        created: r[7] as string,
        modified: r[8] as string,
        account_name: r[9] as string,
        tags: cells.tags(r[10]),
      };
      if (withResources) detail.resources = resources = [];
      page.push(detail);
    }
    if (withResources && r[11] !== null) {
      resources.push({
        id: r[11] as string,
        resource_id: r[12] as string,
        resource_type: r[13] as ResourceObject['resource_type'],
        resource_account_id: r[14] as string,
        meta: cells.meta(r[15]),
        status: r[16] as ResourceObject['status'],
        resource_version: r[17] as number,
        created: r[18] as string,
        modified: r[19] as string,
      });
    }
  }
  return { rows: page, total };
}
