import type { AuditEntry } from '../../platform/audit/entry.js';
export interface ExcludedRecipientRow {
  id: string;
  share_id: string;
  account_id: string;
  created: string;
  modified: string;
}

export interface ExclusionChanges {
  add: ExcludedRecipientRow[];
  /** Exclusion ids to remove. */
  remove: string[];
}

export interface ExcludedRecipientsStore {
  list(
    shareId: string,
    limit: number,
    offset: number,
  ): Promise<{ rows: ExcludedRecipientRow[]; total: number }>;
  get(shareId: string, id: string): Promise<ExcludedRecipientRow | undefined>;
  all(shareId: string): Promise<ExcludedRecipientRow[]>;
  /**
   * Adds and removes exclusions of an active organization share and, in the same transaction, moves the
   * affected accounts' recipients: excluded ones toward disassociated, re-included ones that are still
   * members of the share's organization toward associated (creating the recipient if the account has
   * none, with the id at the removal's index in `recipientIds`: ids are drawn by the service, one per
   * removal). False when the share is not active.
   */
  apply(
    shareId: string,
    changes: ExclusionChanges,
    modified: string,
    recipientIds: readonly string[],
    audit?: readonly AuditEntry[],
  ): Promise<boolean>;
}
