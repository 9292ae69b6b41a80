import type { AuditEntry } from '../../platform/audit/entry.js';
import type { ShareReader } from '../shares/reader.js';
export type AssociationStatus = 'associating' | 'associated' | 'disassociating' | 'disassociated';
export type DesiredStatus = 'associated' | 'disassociated';

export interface RecipientRow {
  id: string;
  share_id: string;
  account_id: string;
  desired_status: DesiredStatus;
  status: AssociationStatus;
  created: string;
  modified: string;
}

/** Delivery state of one shared resource in one recipient account. */
/**
 * The delivery state the reconciler writes before it delivers a resource the account may not hold yet:
 * an apply in doubt (no version known applied, a retryable error), so a process killed mid-delivery
 * leaves a state that makes a later removal reach the account. Answered as no error: it is not one.
 */
export const DELIVERY_IN_DOUBT = 'Delivery in progress';

export interface RecipientResourceRow {
  recipient_id: string;
  resource_id: string;
  resource_version: number;
  error: string;
  terminal: boolean;
}

/** A change to the recipient set of a share, applied atomically. */
export interface RecipientChanges {
  /** New recipients (status `associating`). */
  add: RecipientRow[];
  /** Existing recipients (by account) to associate again. */
  associate: string[];
  /** Existing recipients (by account) to disassociate. */
  disassociate: string[];
}

export interface RecipientPageQuery {
  limit: number;
  offset: number;
  includeResources: boolean;
}

export interface RecipientPage {
  rows: RecipientRow[];
  total: number;
  /** Each recipient's resources by recipient id, when asked for. */
  resources?: Map<string, RecipientResourceRow[]>;
}

/** One recipient as `getFor` finds it: `row` absent when the share has no such recipient. */
export interface RecipientFound {
  row?: RecipientRow;
  /** The recipient's resources by its id, when asked for. */
  resources?: Map<string, RecipientResourceRow[]>;
}

export interface RecipientsStore {
  /**
   * A page and its total (and each recipient's resources when asked), read with the check that `reader`
   * may see the share: undefined when not.
   */
  listFor(reader: ShareReader, shareId: string, page: RecipientPageQuery): Promise<RecipientPage | undefined>;
  /** One recipient, with the same check: undefined when the share is hidden, `row` absent when no such recipient. */
  getFor(
    reader: ShareReader,
    shareId: string,
    id: string,
    includeResources: boolean,
  ): Promise<RecipientFound | undefined>;
  get(shareId: string, id: string): Promise<RecipientRow | undefined>;
  getByAccount(shareId: string, accountId: string): Promise<RecipientRow | undefined>;
  /** Every recipient of the share, any status. */
  all(shareId: string): Promise<RecipientRow[]>;
  /** Applies the changes (and writes `audit`) if the share is still active; false otherwise. */
  apply(
    shareId: string,
    changes: RecipientChanges,
    modified: string,
    audit?: readonly AuditEntry[],
  ): Promise<boolean>;
  resourcesOf(recipientIds: string[]): Promise<Map<string, RecipientResourceRow[]>>;
}
