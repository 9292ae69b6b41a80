import type { AuditEntry } from '../../platform/audit/entry.js';
import type { ResourceType } from '../../http/common-schemas.js';
import type { ShareReader } from '../shares/reader.js';

export type ResourceStatus = 'active' | 'deleting' | 'deleted';

export interface ResourceRow {
  id: string;
  share_id: string;
  resource_id: string;
  resource_type: ResourceType;
  resource_account_id: string;
  meta: Record<string, unknown>;
  status: ResourceStatus;
  resource_version: number;
  created: string;
  modified: string;
}

export interface ResourceListQuery {
  status?: ResourceStatus;
  resourceType?: ResourceType;
  limit: number;
  offset: number;
}

/** How many live shares (not deleted) hold live resources of one type, and how many such resources. */
export interface TypeInUse {
  resource_type: string;
  shares: number;
  resources: number;
}

export interface ResourcesStore {
  /**
   * Every resource type live shares hold, across the whole store: the start-up check that a type is not
   * dropped from the resource-types file while in use (an operator's check, so not scoped to one organization).
   */
  typesInUse(): Promise<TypeInUse[]>;
  /** A page and its total, read with the check that `reader` may see the share: undefined when not. */
  listFor(
    reader: ShareReader,
    shareId: string,
    query: ResourceListQuery,
  ): Promise<{ rows: ResourceRow[]; total: number } | undefined>;
  /** One resource, with the same check: undefined when the share is hidden, `row` absent when no such resource. */
  getFor(reader: ShareReader, shareId: string, id: string): Promise<{ row?: ResourceRow } | undefined>;
  get(shareId: string, id: string): Promise<ResourceRow | undefined>;
  /** The live (not deleted) resource with this type and id in the share, if any. */
  findLive(shareId: string, type: ResourceType, resourceId: string): Promise<ResourceRow | undefined>;
  /** Adds a resource to an active share; 'inactive' or 'duplicate' when it cannot. */
  add(row: ResourceRow, audit?: readonly AuditEntry[]): Promise<'ok' | 'inactive' | 'duplicate'>;
  /**
   * Replaces meta and bumps the version of an active resource of an active share, if it is still at
   * `current`'s version, writing `audit` (built by the service from `current` and the planned change) in
   * the same transaction. 'stale' when a concurrent change moved it on: re-read, plan again, retry.
   */
  updateMeta(
    current: ResourceRow,
    meta: Record<string, unknown>,
    modified: string,
    audit: readonly AuditEntry[],
  ): Promise<ResourceRow | 'inactive' | 'stale'>;
  /** Marks an active resource of an active share `deleting`, as `updateMeta` does (same version check). */
  markDeleting(
    current: ResourceRow,
    modified: string,
    audit: readonly AuditEntry[],
  ): Promise<ResourceRow | 'inactive' | 'stale'>;
}
