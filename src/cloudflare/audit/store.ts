import type { AuditEntry } from '../../platform/audit/entry.js';

/** Columns a list may filter on (v1 and v2 filters map onto these), so no caller names SQL. */
export const AUDIT_FILTER_COLUMNS = [
  'id',
  'account_name',
  'action_result',
  'action_type',
  'actor_context',
  'actor_email',
  'actor_id',
  'actor_ip',
  'actor_token_id',
  'actor_token_name',
  'actor_type',
  'raw_ray_id',
  'raw_method',
  'raw_status_code',
  'raw_uri',
  'resource_id',
  'resource_product',
  'resource_scope',
  'resource_type',
  'share_id',
] as const;
export type AuditFilterColumn = (typeof AUDIT_FILTER_COLUMNS)[number];

/** `column IN values`, or `NOT IN` with `not`. */
export interface AuditFilter {
  column: AuditFilterColumn;
  values: string[];
  not: boolean;
}

/** A place in an account's log: entries sort by time, then by the order they were written. */
export interface AuditPosition {
  time: string;
  seq: number;
}

export interface AuditListQuery {
  accountId: string;
  /** Inclusive lower bound, a timestamp in the API's format. */
  since?: string;
  /** Exclusive upper bound. */
  before?: string;
  direction: 'asc' | 'desc';
  limit: number;
  /** Page pagination (version 1). */
  offset?: number;
  /** Cursor pagination (version 2): entries strictly after this place in `direction`. */
  after?: AuditPosition;
  filters: AuditFilter[];
}

export interface AuditRow extends AuditEntry {
  seq: number;
  account_name: string | null;
}

export interface AuditStore {
  list(query: AuditListQuery): Promise<AuditRow[]>;
  /** Entries that stand alone (reads); changes write theirs through the store method that makes them. */
  record(entries: AuditEntry[]): Promise<void>;
  /** Deletes up to `limit` entries older than `before`; returns how many went. */
  prune(before: string, limit: number): Promise<number>;
}
