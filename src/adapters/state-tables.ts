import { TIMESTAMP_PATTERN } from '../http/common-schemas.js';
import { formatMicros } from '../lib/clock.js';
import type { StateRows } from '../emulator/state/store.js';

/**
 * The tables a state snapshot holds, shared by the SQLite and PostgreSQL state stores: each store turns a
 * column type into its own representation (SQLite keeps booleans as 0/1 and JSON as text, PostgreSQL has
 * boolean, jsonb and timestamptz). Keep in step with the migrations, as src/adapters/copy.ts is: the state test
 * fails on a table or column that is in neither this list nor the derived data below.
 */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'boolean' | 'json' | 'timestamp' | 'expiry';

type Row<K extends keyof StateRows> = StateRows[K][number];

export interface StateTable {
  name: keyof StateRows;
  /** In table order; the insert and select lists. */
  columns: readonly (readonly [string, ColumnType])[];
  /** Export order: the primary key. */
  orderBy: readonly string[];
  /**
   * Scope links have no position column and are listed in the order they were written (rowid on SQLite,
   * ctid on PostgreSQL): exported in that order within their owner, so an import writes them back in it.
   */
  writeOrder: boolean;
}

function table<K extends keyof StateRows>(
  name: K,
  columns: { [C in keyof Row<K>]-?: ColumnType },
  orderBy: readonly (keyof Row<K> & string)[],
  writeOrder = false,
): StateTable {
  return { name, columns: Object.entries(columns) as [string, ColumnType][], orderBy, writeOrder };
}

const stamps = { created: 'timestamp', modified: 'timestamp' } as const;

/** Parents before children, so foreign keys hold at each insert; children first when deleting. */
export const STATE_TABLES: readonly StateTable[] = [
  table('organizations', { id: 'text', name: 'text', ...stamps }, ['id']),
  table('accounts', { id: 'text', name: 'text', organization_id: 'text', entitlements: 'json', ...stamps }, [
    'id',
  ]),
  table('users', { id: 'text', email: 'text', api_key_hash: 'text', ...stamps }, ['id']),
  table('user_accounts', { user_id: 'text', account_id: 'text' }, ['user_id'], true),
  table('user_organizations', { user_id: 'text', organization_id: 'text' }, ['user_id'], true),
  table(
    'tokens',
    {
      id: 'text',
      name: 'text',
      secret_hash: 'text',
      can_edit: 'boolean',
      status: 'text',
      expires_on: 'expiry',
      ...stamps,
    },
    ['id'],
  ),
  table('token_accounts', { token_id: 'text', account_id: 'text' }, ['token_id'], true),
  table('token_organizations', { token_id: 'text', organization_id: 'text' }, ['token_id'], true),
  table('organization_departures', { organization_id: 'text', account_id: 'text' }, [
    'organization_id',
    'account_id',
  ]),
  table(
    'shares',
    {
      id: 'text',
      account_id: 'text',
      organization_id: 'text',
      name: 'text',
      target_type: 'text',
      status: 'text',
      ...stamps,
    },
    ['id'],
  ),
  table('share_tags', { share_id: 'text', key: 'text', value: 'text' }, ['share_id', 'key']),
  table(
    'share_recipients',
    { id: 'text', share_id: 'text', account_id: 'text', desired_status: 'text', status: 'text', ...stamps },
    ['id'],
  ),
  table(
    'share_resources',
    {
      id: 'text',
      share_id: 'text',
      resource_id: 'text',
      resource_type: 'text',
      resource_account_id: 'text',
      meta: 'json',
      status: 'text',
      resource_version: 'integer',
      ...stamps,
    },
    ['id'],
  ),
  table('share_excluded_recipients', { id: 'text', share_id: 'text', account_id: 'text', ...stamps }, ['id']),
  table(
    'recipient_resources',
    {
      recipient_id: 'text',
      share_resource_id: 'text',
      applied_version: 'integer',
      error: 'text',
      terminal: 'boolean',
      error_version: 'integer',
      modified: 'timestamp',
    },
    ['recipient_id', 'share_resource_id'],
  ),
  table(
    'reconcile_work',
    {
      kind: 'text',
      id: 'text',
      generation: 'integer',
      due_at: 'bigint',
      attempts: 'integer',
      last_error: 'text',
    },
    ['kind', 'id'],
  ),
  table(
    'inventory',
    {
      account_id: 'text',
      share_resource_id: 'text',
      share_id: 'text',
      resource_id: 'text',
      resource_type: 'text',
      resource_account_id: 'text',
      meta: 'json',
      resource_version: 'integer',
      ...stamps,
    },
    ['account_id', 'share_resource_id'],
  ),
];

/**
 * Tables outside the snapshot, emptied with the state, never written by an import: kept by triggers from
 * the ones above (`share_visibility`), history (the audit logs, which describe the state a snapshot
 * replaces), or transient request counters (`rate_limits`: a reset starts every caller's window afresh).
 */
export const DERIVED_STATE_TABLES = ['share_visibility', 'audit_logs', 'rate_limits'] as const;

/**
 * Columns left out of a snapshot: recomputed on import (`shareNumbering`), or worker leases, which mean
 * nothing to another store.
 */
export const DERIVED_STATE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  organizations: ['share_count'],
  shares: ['org_seq'],
  reconcile_work: ['lease_owner', 'lease_expires'],
};

/**
 * Each share's place in its organization's creation order (by `created`, then id: what a create under
 * the organization's lock would have given them, barring races), and each organization's share count.
 * Timestamps are canonical (`2023-09-21T18:56:32.624632Z`), so text order is time order.
 */
export function shareNumbering(shares: StateRows['shares']): {
  seq: Map<string, number>;
  counts: Map<string, number>;
} {
  const ordered = [...shares].sort((a, b) =>
    a.created !== b.created ? (a.created < b.created ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  const seq = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const s of ordered) {
    const n = (counts.get(s.organization_id) ?? 0) + 1;
    counts.set(s.organization_id, n);
    seq.set(s.id, n);
  }
  return { seq, counts };
}

/** A column an import writes beside the snapshot's own: its value follows from the rows imported. */
export interface DerivedColumn {
  name: string;
  type: ColumnType;
  value(row: Record<string, unknown>): unknown;
}

/** The derived columns of an import of `rows`, per table. */
export function derivedColumns(rows: StateRows): Partial<Record<keyof StateRows, DerivedColumn[]>> {
  const { seq, counts } = shareNumbering(rows.shares);
  return {
    organizations: [{ name: 'share_count', type: 'bigint', value: (r) => counts.get(r.id as string) ?? 0 }],
    shares: [{ name: 'org_seq', type: 'bigint', value: (r) => seq.get(r.id as string) }],
  };
}

const CANONICAL = new RegExp(TIMESTAMP_PATTERN);

/**
 * A stored timestamp in the form every writer uses (`2023-09-21T18:56:32.624632Z`). SQLite stamps a
 * user's or token's `modified` in SQL, with milliseconds only: those are padded, so a snapshot always
 * holds timestamps a snapshot import accepts.
 */
export function canonicalTimestamp(text: string): string {
  if (CANONICAL.test(text)) return text;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : formatMicros(ms * 1000);
}

/**
 * The deletes that empty everything under one organization's shares, children before parents, with
 * `param` as the organization id's placeholder (`?` or `$1`); the shares themselves go after them.
 * share_visibility goes first, so the triggers that fire as tags and recipients go find no rows left.
 */
export function clearOrganizationSql(param: string): string[] {
  const shares = `SELECT id FROM shares WHERE organization_id = ${param}`;
  const recipients = `SELECT r.id FROM share_recipients r JOIN shares s ON s.id = r.share_id
    WHERE s.organization_id = ${param}`;
  return [
    `DELETE FROM reconcile_work WHERE kind = 'recipient' AND id IN (${recipients})`,
    `DELETE FROM reconcile_work WHERE kind = 'share' AND id IN (${shares})`,
    // inventory has no index on share_id: a scan, acceptable for a test-suite reset.
    `DELETE FROM inventory WHERE share_id IN (${shares})`,
    `DELETE FROM share_visibility WHERE share_id IN (${shares})`,
    `DELETE FROM recipient_resources WHERE recipient_id IN (${recipients})`,
    `DELETE FROM share_excluded_recipients WHERE share_id IN (${shares})`,
    `DELETE FROM share_resources WHERE share_id IN (${shares})`,
    `DELETE FROM share_recipients WHERE share_id IN (${shares})`,
    `DELETE FROM share_tags WHERE share_id IN (${shares})`,
    `DELETE FROM audit_logs WHERE organization_id = ${param}`,
  ];
}
