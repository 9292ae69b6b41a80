import { auditEntry, type AuditActor, type AuditEntry } from '../../platform/audit/entry.js';
import type { Page } from '../../http/envelope.js';
import { ConflictError, NotFoundError, ValidationError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { timeOrderedIds, type IdSource } from '../../lib/ids.js';
import { checkRecipientAccount, namedAccounts, recipientAccount } from '../shares/recipient-accounts.js';
import { ownedActiveShare, ownerOf, shareNotActive } from '../shares/access.js';
import type { ShareReader } from '../shares/reader.js';
import type { SharesStore, ShareView } from '../shares/store.js';
import { OBJECT_NOT_FOUND } from '../../platform/tenancy/auth.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import type { RecipientObject, RecipientRequest } from './schemas.js';
import {
  DELIVERY_IN_DOUBT,
  type RecipientChanges,
  type RecipientResourceRow,
  type RecipientRow,
  type RecipientsStore,
} from './store.js';
import type { TenancyStore } from '../../platform/tenancy/store.js';

/** The parts of the store this service uses (the server passes its whole store). */
export interface RecipientsServiceStore {
  readonly recipients: RecipientsStore;
  readonly shares: SharesStore;
  readonly tenancy: TenancyStore;
}

const RECIPIENT_NOT_FOUND = 'Share recipient not found';

/** Only the owner reads a share's recipients. */
const owner = (accountId: string): ShareReader => ({ accountId, as: 'owner' });

export class RecipientsService {
  constructor(
    private readonly store: RecipientsServiceStore,
    private readonly clock: Clock,
    private readonly ids: IdSource = timeOrderedIds,
  ) {}

  async list(
    accountId: string,
    shareId: string,
    includeResources: boolean,
    page: Page,
  ): Promise<{ items: RecipientObject[]; total: number }> {
    const found = await this.store.recipients.listFor(owner(accountId), shareId, {
      limit: page.limit,
      offset: page.offset,
      includeResources,
    });
    if (!found) throw new NotFoundError(OBJECT_NOT_FOUND);
    return { items: recipientObjects(found.rows, found.resources), total: found.total };
  }

  async get(
    accountId: string,
    shareId: string,
    id: string,
    includeResources: boolean,
  ): Promise<RecipientObject> {
    const found = await this.store.recipients.getFor(owner(accountId), shareId, id, includeResources);
    if (!found) throw new NotFoundError(OBJECT_NOT_FOUND);
    if (!found.row) throw new NotFoundError(RECIPIENT_NOT_FOUND);
    const [obj] = recipientObjects([found.row], found.resources);
    return obj as RecipientObject;
  }

  /** Adds one account, or associates again an account that was removed earlier. */
  async create(
    accountId: string,
    shareId: string,
    body: RecipientRequest,
    actor: AuditActor,
  ): Promise<RecipientObject> {
    const { share, owner } = await this.accountTargeted(accountId, shareId);
    const orgAccounts = await this.members(share, [body]);
    if (body.organization_id !== undefined) {
      throw new ValidationError('Recipients of an account-targeted share are accounts', '/organization_id');
    }
    const target = recipientAccount(body, '');
    if (!target) throw new ValidationError('recipient_account_id is required', '/recipient_account_id');
    checkRecipientAccount(owner, orgAccounts, target.id, target.pointer);
    const existing = await this.store.recipients.getByAccount(share.id, target.id);
    if (existing?.desired_status === 'associated') {
      throw new ConflictError(`Account ${target.id} is already a recipient of the share`);
    }
    const changes: RecipientChanges = existing
      ? { add: [], associate: [target.id], disassociate: [] }
      : { add: [this.newRecipient(share.id, target.id)], associate: [], disassociate: [] };
    const id = existing?.id ?? (changes.add[0] as RecipientRow).id;
    await this.applyOrConflict(share.id, changes, [
      auditEntry(actor, this.clock.timestamp(), {
        account: ownerOf(share),
        action: 'create',
        description: 'Add share recipient',
        resource: { type: 'share_recipient', id },
        old: existing ? { account_id: target.id, association_status: existing.status } : null,
        new: { account_id: target.id, association_status: 'associating' },
        metadata: { share_id: share.id },
      }),
    ]);
    return this.get(accountId, shareId, id, false);
  }

  /** Replaces the recipient list by diff: new accounts added, missing ones disassociated, the rest untouched. */
  async replace(
    accountId: string,
    shareId: string,
    body: RecipientRequest[],
    actor: AuditActor,
  ): Promise<void> {
    const { share, owner } = await this.accountTargeted(accountId, shareId);
    const orgAccounts = await this.members(share, body);
    const wanted = new Set<string>();
    body.forEach((item, i) => {
      if (item.organization_id !== undefined) {
        throw new ValidationError(
          'Recipients of an account-targeted share are accounts',
          `/${i}/organization_id`,
        );
      }
      const target = recipientAccount(item, `/${i}`);
      if (!target)
        throw new ValidationError('recipient_account_id is required', `/${i}/recipient_account_id`);
      checkRecipientAccount(owner, orgAccounts, target.id, target.pointer);
      if (wanted.has(target.id))
        throw new ValidationError(`Account ${target.id} is listed twice`, target.pointer);
      wanted.add(target.id);
    });
    const current = await this.store.recipients.all(share.id);
    const known = new Map(current.map((r) => [r.account_id, r]));
    const changes: RecipientChanges = { add: [], associate: [], disassociate: [] };
    for (const id of wanted) {
      const r = known.get(id);
      if (!r) changes.add.push(this.newRecipient(share.id, id));
      else if (r.desired_status === 'disassociated') changes.associate.push(id);
    }
    for (const r of current) {
      if (!wanted.has(r.account_id) && r.desired_status === 'associated')
        changes.disassociate.push(r.account_id);
    }
    const before = current.filter((r) => r.desired_status === 'associated').map((r) => r.account_id);
    await this.applyOrConflict(share.id, changes, [
      auditEntry(actor, this.clock.timestamp(), {
        account: ownerOf(share),
        action: 'update',
        description: 'Replace share recipients',
        resource: { type: 'share', id: share.id },
        old: { recipients: before },
        new: { recipients: [...wanted] },
        metadata: {
          share_id: share.id,
          added: [...changes.add.map((r) => r.account_id), ...changes.associate],
          removed: changes.disassociate,
        },
      }),
    ]);
  }

  /** Soft delete: the recipient goes `disassociating` and stays listed. */
  async delete(accountId: string, shareId: string, id: string, actor: AuditActor): Promise<RecipientObject> {
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    if (share.target_type === 'organization') {
      throw new ValidationError(
        'Recipients of an organization-targeted share follow the organization; exclude the account instead',
        '/path/share_id',
      );
    }
    const recipient = await this.find(shareId, id);
    if (recipient.desired_status === 'disassociated') {
      throw new ConflictError(`The recipient is already ${recipient.status}`);
    }
    await this.applyOrConflict(shareId, { add: [], associate: [], disassociate: [recipient.account_id] }, [
      auditEntry(actor, this.clock.timestamp(), {
        account: ownerOf(share),
        action: 'delete',
        description: 'Remove share recipient',
        resource: { type: 'share_recipient', id },
        old: { account_id: recipient.account_id, association_status: recipient.status },
        new: { account_id: recipient.account_id, association_status: 'disassociating' },
        metadata: { share_id: shareId },
      }),
    ]);
    return this.get(accountId, shareId, id, false);
  }

  private async accountTargeted(
    accountId: string,
    shareId: string,
  ): Promise<{ share: ShareView; owner: AccountRow }> {
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    if (share.target_type === 'organization') {
      throw new ValidationError(
        'The share targets the whole organization; its recipients cannot be edited (use excluded recipients)',
        '/path/share_id',
      );
    }
    const owner = (await this.store.tenancy.getAccount(accountId)) as AccountRow;
    return { share, owner };
  }

  /** Which of the accounts the items name belong to the share's organization (only those are looked up). */
  private members(share: ShareView, items: readonly RecipientRequest[]): Promise<Set<string>> {
    return this.store.tenancy.organizationMembers(share.organization_id, namedAccounts(items));
  }

  private async applyOrConflict(
    shareId: string,
    changes: RecipientChanges,
    audit: AuditEntry[],
  ): Promise<void> {
    if (!(await this.store.recipients.apply(shareId, changes, this.clock.timestamp(), audit))) {
      throw shareNotActive('deleting');
    }
  }

  private newRecipient(shareId: string, accountId: string): RecipientRow {
    const now = this.clock.timestamp();
    return {
      id: this.ids.next(),
      share_id: shareId,
      account_id: accountId,
      desired_status: 'associated',
      status: 'associating',
      created: now,
      modified: now,
    };
  }

  private async find(shareId: string, id: string): Promise<RecipientRow> {
    const row = await this.store.recipients.get(shareId, id);
    if (!row) throw new NotFoundError(RECIPIENT_NOT_FOUND);
    return row;
  }
}

/** Recipients as the API answers them, with their resources (error and terminal included) if asked. */
export async function presentRecipients(
  store: RecipientsStore,
  rows: RecipientRow[],
  includeResources: boolean,
): Promise<RecipientObject[]> {
  return recipientObjects(
    rows,
    includeResources ? await store.resourcesOf(rows.map((r) => r.id)) : undefined,
  );
}

/** Recipients as the API answers them; with `resources` (by recipient id), each carries its resources. */
export function recipientObjects(
  rows: RecipientRow[],
  resources?: Map<string, RecipientResourceRow[]>,
): RecipientObject[] {
  return rows.map((r) => {
    const obj: RecipientObject = {
      id: r.id,
      account_id: r.account_id,
      association_status: r.status,
      created: r.created,
      modified: r.modified,
    };
    if (resources) {
      obj.resources = (resources.get(r.id) ?? []).map(
        ({ resource_id, resource_version, error, terminal }) => ({
          resource_id,
          resource_version,
          error: error === DELIVERY_IN_DOUBT ? '' : error,
          terminal,
        }),
      );
    }
    return obj;
  });
}
