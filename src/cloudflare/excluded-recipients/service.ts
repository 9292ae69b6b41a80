import { auditEntry, type AuditActor, type AuditEntry } from '../../platform/audit/entry.js';
import type { Page } from '../../http/envelope.js';
import { ConflictError, NotFoundError, ValidationError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { timeOrderedIds, type IdSource } from '../../lib/ids.js';
import { ownedActiveShare, ownedShare, ownerOf, shareNotActive } from '../shares/access.js';
import type { SharesStore, ShareView } from '../shares/store.js';
import type { ExcludedRecipientObject, ExcludedRecipientRequest } from './schemas.js';
import type { ExcludedRecipientRow, ExclusionChanges } from './store.js';
import type { ExcludedRecipientsStore } from './store.js';
import type { TenancyStore } from '../../platform/tenancy/store.js';

/** The parts of the store this service uses (the server passes its whole store). */
export interface ExcludedRecipientsServiceStore {
  readonly excludedRecipients: ExcludedRecipientsStore;
  readonly shares: SharesStore;
  readonly tenancy: TenancyStore;
}

const EXCLUSION_NOT_FOUND = 'Share excluded recipient not found';

function toObject(r: ExcludedRecipientRow): ExcludedRecipientObject {
  return { id: r.id, account_id: r.account_id, created: r.created, modified: r.modified };
}

/** Accounts skipped by an organization-targeted share. */
export class ExcludedRecipientsService {
  constructor(
    private readonly store: ExcludedRecipientsServiceStore,
    private readonly clock: Clock,
    private readonly ids: IdSource = timeOrderedIds,
  ) {}

  async list(
    accountId: string,
    shareId: string,
    page: Page,
  ): Promise<{ items: ExcludedRecipientObject[]; total: number }> {
    await this.organizationShare(accountId, shareId, false);
    const { rows, total } = await this.store.excludedRecipients.list(shareId, page.limit, page.offset);
    return { items: rows.map(toObject), total };
  }

  async get(accountId: string, shareId: string, id: string): Promise<ExcludedRecipientObject> {
    await this.organizationShare(accountId, shareId, false);
    return toObject(await this.find(shareId, id));
  }

  async create(
    accountId: string,
    shareId: string,
    body: ExcludedRecipientRequest,
    actor: AuditActor,
  ): Promise<ExcludedRecipientObject> {
    const share = await this.organizationShare(accountId, shareId, true);
    await this.checkAccount(share, body.account_id, '/account_id');
    const existing = (await this.store.excludedRecipients.all(shareId)).find(
      (e) => e.account_id === body.account_id,
    );
    if (existing) throw new ConflictError(`Account ${body.account_id} is already excluded from the share`);
    const row = this.newExclusion(shareId, body.account_id);
    await this.applyOrConflict(shareId, { add: [row], remove: [] }, [
      auditEntry(actor, this.clock.timestamp(), {
        account: ownerOf(share),
        action: 'create',
        description: 'Exclude account from share',
        resource: { type: 'share_excluded_recipient', id: row.id },
        new: { account_id: row.account_id },
        metadata: { share_id: shareId },
      }),
    ]);
    return toObject(row);
  }

  /** Makes the exclusion list exactly `body`: new accounts excluded, missing ones included again. */
  async replace(
    accountId: string,
    shareId: string,
    body: ExcludedRecipientRequest[],
    actor: AuditActor,
  ): Promise<void> {
    const share = await this.organizationShare(accountId, shareId, true);
    const wanted = new Set<string>();
    for (const [i, item] of body.entries()) {
      await this.checkAccount(share, item.account_id, `/${i}/account_id`);
      if (wanted.has(item.account_id)) {
        throw new ValidationError(`Account ${item.account_id} is listed twice`, `/${i}/account_id`);
      }
      wanted.add(item.account_id);
    }
    const current = await this.store.excludedRecipients.all(shareId);
    const currentAccounts = new Set(current.map((e) => e.account_id));
    const changes: ExclusionChanges = {
      add: [...wanted].filter((id) => !currentAccounts.has(id)).map((id) => this.newExclusion(shareId, id)),
      remove: current.filter((e) => !wanted.has(e.account_id)).map((e) => e.id),
    };
    await this.applyOrConflict(shareId, changes, [
      auditEntry(actor, this.clock.timestamp(), {
        account: ownerOf(share),
        action: 'update',
        description: 'Replace share excluded recipients',
        resource: { type: 'share', id: shareId },
        old: { excluded_recipients: current.map((e) => e.account_id) },
        new: { excluded_recipients: [...wanted] },
        metadata: { share_id: shareId },
      }),
    ]);
  }

  async delete(
    accountId: string,
    shareId: string,
    id: string,
    actor: AuditActor,
  ): Promise<ExcludedRecipientObject> {
    const share = await this.organizationShare(accountId, shareId, true);
    const row = await this.find(shareId, id);
    await this.applyOrConflict(shareId, { add: [], remove: [id] }, [
      auditEntry(actor, this.clock.timestamp(), {
        account: ownerOf(share),
        action: 'delete',
        description: 'Include excluded account in share again',
        resource: { type: 'share_excluded_recipient', id },
        old: { account_id: row.account_id },
        metadata: { share_id: shareId },
      }),
    ]);
    return toObject(row);
  }

  private async organizationShare(accountId: string, shareId: string, change: boolean): Promise<ShareView> {
    const share = change
      ? await ownedActiveShare(this.store.shares, accountId, shareId)
      : await ownedShare(this.store.shares, accountId, shareId);
    if (share.target_type !== 'organization') {
      throw new ValidationError(
        'Excluded recipients apply only to shares with target_type=organization',
        '/path/share_id',
      );
    }
    return share;
  }

  private async checkAccount(share: ShareView, id: string, pointer: string): Promise<void> {
    if (id === share.account_id)
      throw new ValidationError('The share owner account cannot be excluded', pointer);
    const account = await this.store.tenancy.getAccount(id);
    if (account?.organization_id !== share.organization_id) {
      throw new ValidationError(`Account ${id} is not a member of the share owner's organization`, pointer);
    }
  }

  private async applyOrConflict(
    shareId: string,
    changes: ExclusionChanges,
    audit: AuditEntry[],
  ): Promise<void> {
    // A removed exclusion may re-create its account's recipient: an id for each, drawn before the write.
    const recipientIds = changes.remove.map(() => this.ids.next());
    const now = this.clock.timestamp();
    if (!(await this.store.excludedRecipients.apply(shareId, changes, now, recipientIds, audit))) {
      throw shareNotActive('deleting');
    }
  }

  private newExclusion(shareId: string, accountId: string): ExcludedRecipientRow {
    const now = this.clock.timestamp();
    return { id: this.ids.next(), share_id: shareId, account_id: accountId, created: now, modified: now };
  }

  private async find(shareId: string, id: string): Promise<ExcludedRecipientRow> {
    const row = await this.store.excludedRecipients.get(shareId, id);
    if (!row) throw new NotFoundError(EXCLUSION_NOT_FOUND);
    return row;
  }
}
