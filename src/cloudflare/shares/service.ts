import { auditEntry, type AuditActor } from '../../platform/audit/entry.js';
import { pointerSegment } from '../../http/validation.js';
import type { Page } from '../../http/envelope.js';
import { ValidationError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { timeOrderedIds, type IdSource } from '../../lib/ids.js';
import { checkMeta } from '../../platform/resource-types/meta.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import type { RecipientRow } from '../recipients/store.js';
import type { ResourceRow } from '../resources/store.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import {
  MAX_TAG_KEY_LENGTH,
  type CreateShareBody,
  type ListSharesQuery,
  type ShareObject,
  type UpdateShareBody,
} from './schemas.js';
import { ownedActiveShare, ownerOf, shareNotActive, visibleShare } from './access.js';
import { assumeMembers, namedAccounts, resolveRecipients, type Membership } from './recipient-accounts.js';
import type { ShareDetail, ShareListQuery, ShareRow, ShareView, TagFilter, Tags } from './store.js';
import type { SharesStore } from './store.js';
import type { TenancyStore } from '../../platform/tenancy/store.js';

/** The parts of the store this service uses (the server passes its whole store). */
export interface SharesServiceStore {
  readonly shares: SharesStore;
  readonly tenancy: TenancyStore;
}

export interface Includes {
  include_resources?: boolean;
  include_recipient_counts?: boolean;
}

type Kind = 'sent' | 'received';

/** Shares: create, read, list, rename and delete (the access rules are in access.ts). */
export class SharesService {
  constructor(
    private readonly store: SharesServiceStore,
    private readonly clock: Clock,
    private readonly ids: IdSource = timeOrderedIds,
    private readonly types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  ) {}

  /**
   * `owner` is the path's account as authentication read it; the answer is built from what is written.
   * Membership of the recipient accounts is the store's to check as it writes (no round trip of its own);
   * the rest of the body is checked first, and a refused body gets the same first problem either way.
   */
  async create(owner: AccountRow, body: CreateShareBody, actor: AuditActor): Promise<ShareObject> {
    checkTags(body.tags);
    const ownerId = owner.id;
    if (!owner.organization_id) {
      throw new ValidationError(
        'The account does not belong to an organization, so it cannot share',
        '/recipients',
      );
    }
    const now = this.clock.timestamp();
    const shareId = this.ids.next();
    const organizationId = owner.organization_id;
    const check = (members: Membership) => ({
      ...resolveRecipients(owner, body.recipients, members),
      checkedResources: checkResources(ownerId, body.resources, this.types),
    });
    const assumed = assumeMembers();
    let checked: ReturnType<typeof check>;
    try {
      checked = check(assumed);
    } catch (err) {
      // A problem found after a named account: whether that account is a member decides which problem
      // comes first. Only the accounts the body names are read; an organization's members are the
      // reconciler's to find.
      if (assumed.asked()) {
        check(await this.store.tenancy.organizationMembers(organizationId, namedAccounts(body.recipients)));
      }
      throw err;
    }
    const { targetType, accountIds, checkedResources } = checked;
    const recipients: RecipientRow[] = accountIds.map((account_id) => ({
      id: this.ids.next(),
      share_id: shareId,
      account_id,
      desired_status: 'associated',
      status: 'associating',
      ...stamp(this.clock),
    }));
    const resources: ResourceRow[] = checkedResources.map((r) => ({
      id: this.ids.next(),
      share_id: shareId,
      resource_id: r.resource_id,
      resource_type: r.resource_type,
      resource_account_id: r.resource_account_id,
      meta: r.meta,
      status: 'active',
      resource_version: 1,
      ...stamp(this.clock),
    }));
    const audit = auditEntry(actor, now, {
      account: owner,
      action: 'create',
      description: 'Create share',
      resource: { type: 'share', id: shareId },
      new: {
        name: body.name,
        target_type: targetType,
        tags: body.tags ?? {},
        recipients: accountIds,
        resources: resources.map(({ resource_id, resource_type }) => ({ resource_id, resource_type })),
      },
      metadata: { share_id: shareId },
    });
    const share: ShareRow = {
      id: shareId,
      account_id: ownerId,
      organization_id: organizationId,
      name: body.name,
      target_type: targetType,
      status: 'active',
      created: now,
      modified: now,
    };
    const tags = byKey(body.tags ?? {});
    const { notMembers } = await this.store.shares.create({ share, tags, recipients, resources }, [audit]);
    if (notMembers.length > 0) {
      // Nothing was written; the check against the store's answer throws the first one's error.
      const outside = new Set(notMembers);
      check({ has: (id) => !outside.has(id) });
      throw new Error(`the store refused recipients the body does not name: ${notMembers.join(', ')}`);
    }
    return toShareObject({ ...share, account_name: owner.name, tags }, 'sent');
  }

  async get(accountId: string, shareId: string, includes: Includes): Promise<ShareObject> {
    const share = await visibleShare(
      this.store.shares,
      accountId,
      shareId,
      includes.include_resources === true,
    );
    const [obj] = await this.decorate([share], kindFor(accountId), includes);
    return obj as ShareObject;
  }

  async list(
    accountId: string,
    q: ListSharesQuery,
    page: Page,
  ): Promise<{ items: ShareObject[]; total: number }> {
    const { rows, total } = await this.store.shares.list({
      ...filters(q, page),
      scope: { accountId },
      tags: parseTagFilters(q.tag ?? []),
      includeResources: q.include_resources === true,
    });
    const items = await this.decorate(rows, kindFor(accountId), q);
    return { items, total };
  }

  async listForOrganization(
    organizationId: string,
    q: Omit<ListSharesQuery, 'tag' | 'include_resources' | 'include_recipient_counts'>,
    page: Page,
  ): Promise<{ items: ShareObject[]; total: number }> {
    const { rows, total } = await this.store.shares.list({ ...filters(q, page), scope: { organizationId } });
    return { items: await this.decorate(rows, () => 'sent', {}), total };
  }

  async update(
    accountId: string,
    shareId: string,
    body: UpdateShareBody,
    actor: AuditActor,
  ): Promise<ShareObject> {
    checkTags(body.tags);
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    const now = this.clock.timestamp();
    const tags = (await this.store.shares.tagsOf([shareId])).get(shareId) ?? {};
    const audit = auditEntry(actor, now, {
      account: ownerOf(share),
      action: 'update',
      description: 'Update share',
      resource: { type: 'share', id: shareId },
      old: { name: share.name, tags },
      new: { name: body.name, tags: body.tags ?? tags },
      metadata: { share_id: shareId },
    });
    if (!(await this.store.shares.update(shareId, body.name, body.tags, now, [audit]))) {
      throw shareNotActive('deleting');
    }
    return this.present(accountId, shareId);
  }

  async delete(accountId: string, shareId: string, actor: AuditActor): Promise<ShareObject> {
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    const now = this.clock.timestamp();
    const audit = auditEntry(actor, now, {
      account: ownerOf(share),
      action: 'delete',
      description: 'Delete share',
      resource: { type: 'share', id: shareId },
      old: { name: share.name, status: share.status },
      new: { status: 'deleting' },
      metadata: { share_id: shareId },
    });
    if (!(await this.store.shares.markDeleting(shareId, now, [audit]))) throw shareNotActive('deleting');
    return this.present(accountId, shareId);
  }

  private async present(accountId: string, shareId: string): Promise<ShareObject> {
    const [obj] = await this.decorate(
      [await visibleShare(this.store.shares, accountId, shareId)],
      kindFor(accountId),
      {},
    );
    return obj as ShareObject;
  }

  /**
   * Adds kind and the recipient counts when asked (one query for the whole page); tags and resources
   * came with the rows.
   */
  private async decorate(
    rows: ShareDetail[],
    kindOf: (s: ShareView) => Kind,
    includes: Includes,
  ): Promise<ShareObject[]> {
    if (rows.length === 0) return [];
    // Recipients are the owner's to see, counts included (the disassociated count would tell a recipient
    // about exclusions): a received share gets none however it asks. The contract makes the counts
    // optional and not nullable ("only included when requested"), so they are absent rather than null.
    const counted = includes.include_recipient_counts
      ? rows.filter((r) => kindOf(r) === 'sent').map((r) => r.id)
      : [];
    const counts = counted.length > 0 ? await this.store.shares.recipientCountsOf(counted) : undefined;
    return rows.map((s) => {
      const obj = toShareObject(s, kindOf(s));
      if (includes.include_resources) obj.resources = s.resources ?? [];
      const c = counts?.get(s.id);
      if (c) {
        obj.associating_recipient_count = c.associating;
        obj.associated_recipient_count = c.associated;
        obj.disassociating_recipient_count = c.disassociating;
        obj.disassociated_recipient_count = c.disassociated;
      }
      return obj;
    });
  }
}

/** Each row gets its own (strictly increasing) timestamp, so lists keep request order. */
function stamp(clock: Clock): { created: string; modified: string } {
  const t = clock.timestamp();
  return { created: t, modified: t };
}

function filters(
  q: Omit<ListSharesQuery, 'tag' | 'include_resources' | 'include_recipient_counts'>,
  page: Page,
): Omit<ShareListQuery, 'scope'> {
  return {
    kind: q.kind,
    status: q.status,
    targetType: q.target_type,
    resourceTypes: q.resource_types,
    order: q.order ?? 'created',
    direction: q.direction ?? 'asc',
    limit: page.limit,
    offset: page.offset,
  };
}

/** Tag keys are 1-256 characters without "=" (a `tag=key=value` filter splits at the first "="). */
function checkTags(tags: Record<string, string> | undefined): void {
  for (const key of Object.keys(tags ?? {})) {
    const pointer = `/tags/${pointerSegment(key)}`;
    if (key === '') throw new ValidationError('Tag keys must not be empty', pointer);
    if (key.length > MAX_TAG_KEY_LENGTH) {
      throw new ValidationError(`Tag keys must be at most ${MAX_TAG_KEY_LENGTH} characters`, pointer);
    }
    if (key.includes('=')) throw new ValidationError(`Tag key "${key}" must not contain "="`, pointer);
  }
}

/** `key` matches any value of the tag; `key=value` (split at the first "=") matches that pair. */
export function parseTagFilters(tags: string[]): TagFilter[] {
  return tags.map((t, i) => {
    const eq = t.indexOf('=');
    const key = eq === -1 ? t : t.slice(0, eq);
    if (key === '') throw new ValidationError(`tag[${i}] must start with a key`, `/query/tag/${i}`);
    return eq === -1 ? { key } : { key, value: t.slice(eq + 1) };
  });
}

/** Every resource must belong to the owner, each (type, id) may appear once, and each meta fit its type. */
function checkResources(
  ownerId: string,
  resources: CreateShareBody['resources'],
  types: ResourceTypeRegistry,
): CreateShareBody['resources'] {
  const seen = new Set<string>();
  resources.forEach((r, i) => {
    if (r.resource_account_id !== ownerId) {
      throw new ValidationError(
        "resource_account_id must be the share owner's account",
        `/resources/${i}/resource_account_id`,
      );
    }
    const key = `${r.resource_type}\u0000${r.resource_id}`;
    if (seen.has(key)) {
      throw new ValidationError(
        `Resource ${r.resource_type} ${r.resource_id} is listed twice`,
        `/resources/${i}/resource_id`,
      );
    }
    seen.add(key);
    checkMeta(types, r.resource_type, r.meta, `/resources/${i}/meta`);
  });
  return resources;
}

/** Tags in key order, as a share read back from either store lists them. */
function byKey(tags: Tags): Tags {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Sent when the account owns the share, received otherwise (it is then a current recipient). */
function kindFor(accountId: string): (s: ShareView) => Kind {
  return (s) => (s.account_id === accountId ? 'sent' : 'received');
}

function toShareObject(s: ShareView & { tags: Tags }, kind: Kind): ShareObject {
  return {
    id: s.id,
    name: s.name,
    account_id: s.account_id,
    account_name: s.account_name,
    organization_id: s.organization_id,
    created: s.created,
    modified: s.modified,
    status: s.status,
    target_type: s.target_type,
    kind,
    tags: s.tags,
  };
}
