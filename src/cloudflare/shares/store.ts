import type { AuditEntry } from '../../platform/audit/entry.js';
import type { ResourceType } from '../../http/common-schemas.js';
import type { RecipientRow } from '../recipients/store.js';
import type { ResourceRow } from '../resources/store.js';
import type { ResourceObject } from '../resources/schemas.js';

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

/** A share as an answer shows it: with its tags and, when asked for, its resources (oldest first). */
export interface ShareDetail extends ShareView {
  tags: Tags;
  /** In the API's shape already: the database builds them so, and the answer passes them on as they are. */
  resources?: ResourceObject[];
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
  /** Read each share's resources with the page. */
  includeResources?: boolean;
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
  /**
   * Writes the share, its tags, recipients, resources and work in one transaction, if every recipient's
   * account is a member of the share's organization (checked by the write, so no round trip of its own);
   * otherwise writes nothing and names the accounts that are not.
   */
  create(input: NewShare, audit?: readonly AuditEntry[]): Promise<{ notMembers: string[] }>;
  get(id: string): Promise<ShareView | undefined>;
  /**
   * The share with its tags (and resources when asked), in one statement, if the account owns it or
   * currently receives it (recipient associating or associated).
   */
  visibleTo(accountId: string, shareId: string, includeResources: boolean): Promise<ShareDetail | undefined>;
  /** A page with its tags (and resources when asked) and the exact total, in one statement. */
  list(query: ShareListQuery): Promise<{ rows: ShareDetail[]; total: number }>;
  tagsOf(shareIds: string[]): Promise<Map<string, Tags>>;
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
