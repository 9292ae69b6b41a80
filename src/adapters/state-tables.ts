import { TIMESTAMP_PATTERN } from '../http/common-schemas.js';
import { formatMicros } from '../lib/clock.js';
import type { StateRows } from '../emulator/state/store.js';
import type { ColumnType } from '../lib/table.js';

/*
 * What the state stores of both dialects share beyond the table list (./tables.ts): the restore's derived
 * columns, timestamps in canonical form, and the deletes that empty one organization.
 */

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
export function derivedColumns(rows: StateRows): Partial<Record<string, DerivedColumn[]>> {
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
