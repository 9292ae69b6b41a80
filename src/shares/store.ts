import type { AuditEntry } from '../audit/entry.js';
import type { ResourceType } from '../http/common-schemas.js';
import type { RecipientRow } from '../recipients/store.js';
import type { ResourceRow } from '../resources/store.js';

export type ShareStatus = 'active' | 'deleting' | 'deleted';
export type TargetType = 'account' | 'organization';
export type Tags = Record<string, string>;

export interface ShareRow {
  id: string;
  account_id: string;
  organization_id: string;
  name: string;
  target_type: TargetType;
  status: ShareStatus;
  created: string;
  modified: string;
}

/** A share joined with what every answer needs: the owner's name. */
export interface ShareView extends ShareRow {
  account_name: string;
}

export interface TagFilter {
  key: string;
  value?: string;
}

export interface ShareListQuery {
  /** An account sees shares it owns and shares it actively receives; an organization sees its own. */
  scope: { accountId: string } | { organizationId: string };
  kind?: 'sent' | 'received';
  status?: ShareStatus;
  targetType?: TargetType;
  resourceTypes?: ResourceType[];
  tags?: TagFilter[];
  order: 'name' | 'created';
  direction: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export interface RecipientCounts {
  associating: number;
  associated: number;
  disassociating: number;
  disassociated: number;
}

export interface NewShare {
  share: ShareRow;
  tags: Tags;
  recipients: RecipientRow[];
  resources: ResourceRow[];
}

/**
 * Every method that changes something takes the audit entries describing the change and writes them in
 * the same transaction (none when the change does not happen).
 */
export interface SharesStore {
  create(input: NewShare, audit?: readonly AuditEntry[]): Promise<void>;
  get(id: string): Promise<ShareView | undefined>;
  list(query: ShareListQuery): Promise<{ rows: ShareView[]; total: number }>;
  /** Whether the account currently receives the share (recipient associating or associated). */
  isActiveRecipient(shareId: string, accountId: string): Promise<boolean>;
  tagsOf(shareIds: string[]): Promise<Map<string, Tags>>;
  resourcesOf(shareIds: string[]): Promise<Map<string, ResourceRow[]>>;
  recipientCountsOf(shareIds: string[]): Promise<Map<string, RecipientCounts>>;
  /** Renames (and re-tags when `tags` is given) an active share; false when it is no longer active. */
  update(
    id: string,
    name: string,
    tags: Tags | undefined,
    modified: string,
    audit?: readonly AuditEntry[],
  ): Promise<boolean>;
  /**
   * Starts the asynchronous delete of an active share: the share goes `deleting`, every recipient not
   * yet disassociated goes `disassociating`, every live resource `deleting`. False when not active.
   */
  markDeleting(id: string, modified: string, audit?: readonly AuditEntry[]): Promise<boolean>;
}
