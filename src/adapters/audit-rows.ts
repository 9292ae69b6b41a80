import { AUDIT_PRODUCT, type AuditEntry } from '../platform/audit/entry.js';
import type { AuditFilterColumn, AuditRow } from '../cloudflare/audit/store.js';

/** Audit rows as both stores keep them: the four JSON values as text, served exactly as written. */
export interface StoredAuditRow extends Omit<AuditRow, 'old_value' | 'new_value' | 'metadata' | 'request'> {
  old_value: string | null;
  new_value: string | null;
  metadata: string | null;
  request: string | null;
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const parse = (v: string | null): unknown => (v === null ? null : JSON.parse(v));

/** Every column of an entry, in one order: both stores' inserts and the store copy's description of audit_logs. */
export const AUDIT_COLUMNS = [
  'id',
  'account_id',
  'organization_id',
  'time',
  'action_type',
  'action_description',
  'action_result',
  'actor_type',
  'actor_id',
  'actor_email',
  'actor_ip',
  'actor_context',
  'actor_token_id',
  'actor_token_name',
  'interface',
  'resource_type',
  'resource_id',
  'share_id',
  'raw_method',
  'raw_uri',
  'raw_status_code',
  'raw_user_agent',
  'raw_ray_id',
  'old_value',
  'new_value',
  'metadata',
  'request',
] as const satisfies readonly (keyof AuditEntry)[];

const JSON_COLUMNS: ReadonlySet<string> = new Set(['old_value', 'new_value', 'metadata', 'request']);

/**
 * An entry's values in `AUDIT_COLUMNS` order, its JSON values as text: bound by position, which costs
 * SQLite's driver half what 27 named parameters did.
 */
export function auditValues(e: AuditEntry): unknown[] {
  return AUDIT_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? text(e[c]) : e[c]));
}

/** An entry with its JSON values as the text the stores keep. */
export function storedAuditEntry(e: AuditEntry) {
  return {
    ...e,
    old_value: text(e.old_value),
    new_value: text(e.new_value),
    metadata: text(e.metadata),
    request: text(e.request),
  };
}

export function parseAuditRow(row: StoredAuditRow): AuditRow {
  return {
    ...row,
    old_value: parse(row.old_value),
    new_value: parse(row.new_value),
    metadata: parse(row.metadata),
    request: parse(row.request),
  };
}

/**
 * The SQL each filter column reads (log as `l`, accounts as `a`), compared as text; product and scope
 * are the same for every rshare entry. `cast` turns a non-text value into text where the dialect needs it
 * (PostgreSQL); `id` and `share_id` are compared as stored where they are text, so their indexes serve.
 */
export function auditFilterSql(cast: (sql: string) => string): Record<AuditFilterColumn, string> {
  return {
    id: cast('l.id'),
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
    raw_status_code: cast('l.raw_status_code'),
    raw_uri: 'l.raw_uri',
    resource_id: 'l.resource_id',
    resource_product: cast(`'${AUDIT_PRODUCT}'`),
    resource_scope: cast(`'accounts'`),
    resource_type: 'l.resource_type',
    share_id: 'l.share_id',
  };
}
