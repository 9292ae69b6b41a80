import type { ResourceType } from '../../http/common-schemas.js';
import type { WorkKind } from '../../engine/reconciler/store.js';
import type { ShareRecord, ShareTagRecord } from '../../cloudflare/shares/table.js';

/**
 * The store's rows as the state document needs them, one list per table, with the same types on both
 * stores (booleans, numbers, JSON values). Derived data is left out: `organizations.share_count`,
 * `shares.org_seq` and `share_visibility` are recomputed on import, and work leases are dropped.
 */
export interface StateRows {
  organizations: { id: string; name: string; created: string; modified: string }[];
  accounts: {
    id: string;
    name: string;
    organization_id: string | null;
    entitlements: ResourceType[] | null;
    created: string;
    modified: string;
  }[];
  users: { id: string; email: string; api_key_hash: string; created: string; modified: string }[];
  /** Scope links, in the order the tenancy store lists them (the order they were written in). */
  user_accounts: { user_id: string; account_id: string }[];
  user_organizations: { user_id: string; organization_id: string }[];
  tokens: {
    id: string;
    name: string;
    secret_hash: string;
    can_edit: boolean;
    status: 'active' | 'disabled';
    /** Whole seconds, `2030-01-01T00:00:00Z`, as the tenancy store returns it. */
    expires_on: string | null;
    created: string;
    modified: string;
  }[];
  token_accounts: { token_id: string; account_id: string }[];
  token_organizations: { token_id: string; organization_id: string }[];
  organization_departures: { organization_id: string; account_id: string }[];
  /** As declared with the shares table (../../cloudflare/shares/table.ts). */
  shares: ShareRecord[];
  share_tags: ShareTagRecord[];
  share_recipients: {
    id: string;
    share_id: string;
    account_id: string;
    desired_status: 'associated' | 'disassociated';
    status: 'associating' | 'associated' | 'disassociating' | 'disassociated';
    created: string;
    modified: string;
  }[];
  share_resources: {
    id: string;
    share_id: string;
    resource_id: string;
    resource_type: ResourceType;
    resource_account_id: string;
    meta: Record<string, unknown>;
    status: 'active' | 'deleting' | 'deleted';
    resource_version: number;
    created: string;
    modified: string;
  }[];
  share_excluded_recipients: {
    id: string;
    share_id: string;
    account_id: string;
    created: string;
    modified: string;
  }[];
  recipient_resources: {
    recipient_id: string;
    share_resource_id: string;
    applied_version: number | null;
    error: string;
    terminal: boolean;
    error_version: number | null;
    modified: string;
  }[];
  /** Unleased: a lease belongs to a worker of the store the rows came from. */
  reconcile_work: {
    kind: WorkKind;
    id: string;
    generation: number;
    due_at: number;
    attempts: number;
    last_error: string | null;
  }[];
  inventory: {
    account_id: string;
    share_resource_id: string;
    share_id: string;
    resource_id: string;
    resource_type: ResourceType;
    resource_account_id: string;
    meta: Record<string, unknown>;
    resource_version: number;
    created: string;
    modified: string;
  }[];
}

/** Whole-store operations for test suites (the admin API's reset and state snapshots). */
export interface StateStore {
  /** Deletes every row of every table, tenancy included (not the migration history), in one transaction. */
  clear(): Promise<void>;
  /**
   * In one transaction: removes the organization's shares and everything under them (tags, recipients,
   * resources, exclusions, delivery states, the inventory rows they delivered, their reconciler work and
   * visibility rows) and restarts its share numbering. Tenancy and other organizations are untouched.
   * Undefined when the organization does not exist.
   */
  clearOrganization(organizationId: string): Promise<{ shares: number } | undefined>;
  /** Every row, each table in primary-key order, from one consistent snapshot. */
  /** Every table, or only those in `only` (the others come back empty). */
  exportRows(only?: ReadonlySet<keyof StateRows>): Promise<StateRows>;
  /**
   * Replaces the whole store with `rows` in one transaction (clear, then insert), recomputing the derived
   * data. The rows must be valid and consistent (the service checks them); a store error rolls back.
   */
  importRows(rows: StateRows): Promise<void>;
}
