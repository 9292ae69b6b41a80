import { metaDiff } from '../../platform/audit/bound.js';
import { auditEntry, type AuditActor, type AuditEntry } from '../../platform/audit/entry.js';
import type { Page } from '../../http/envelope.js';
import { ConflictError, ContendedError, NotFoundError, ValidationError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { timeOrderedIds, type IdSource } from '../../lib/ids.js';
import { checkMeta } from '../../platform/resource-types/meta.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import { OBJECT_NOT_FOUND } from '../../platform/tenancy/auth.js';
import { ownedActiveShare, ownerOf, shareNotActive } from '../shares/access.js';
import type { ShareReader } from '../shares/reader.js';
import type { SharesStore, ShareView } from '../shares/store.js';
import type {
  CreateResourceBody,
  ListResourcesQuery,
  ResourceObject,
  UpdateResourceBody,
} from './schemas.js';
import { toResourceObject } from './present.js';
import type { ResourceRow, ResourcesStore } from './store.js';

/** An owner, or an account receiving the share, may read its resources. */
const viewer = (accountId: string): ShareReader => ({ accountId, as: 'owner-or-recipient' });

/** Plans of one resource update or delete before it gives up to concurrent writers. */
export const WRITE_ATTEMPTS = 8;

/** The parts of the store this service uses (the server passes its whole store). */
export interface ResourcesServiceStore {
  readonly resources: ResourcesStore;
  readonly shares: SharesStore;
}

const RESOURCE_NOT_FOUND = 'Share resource not found';

export class ResourcesService {
  constructor(
    private readonly store: ResourcesServiceStore,
    private readonly clock: Clock,
    private readonly ids: IdSource = timeOrderedIds,
    private readonly types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  ) {}

  async list(
    accountId: string,
    shareId: string,
    q: ListResourcesQuery,
    page: Page,
  ): Promise<{ items: ResourceObject[]; total: number }> {
    const found = await this.store.resources.listFor(viewer(accountId), shareId, {
      status: q.status,
      resourceType: q.resource_type,
      limit: page.limit,
      offset: page.offset,
    });
    if (!found) throw new NotFoundError(OBJECT_NOT_FOUND);
    return { items: found.rows.map(toResourceObject), total: found.total };
  }

  async get(accountId: string, shareId: string, id: string): Promise<ResourceObject> {
    const found = await this.store.resources.getFor(viewer(accountId), shareId, id);
    if (!found) throw new NotFoundError(OBJECT_NOT_FOUND);
    if (!found.row) throw new NotFoundError(RESOURCE_NOT_FOUND);
    return toResourceObject(found.row);
  }

  async create(
    accountId: string,
    shareId: string,
    body: CreateResourceBody,
    actor: AuditActor,
  ): Promise<ResourceObject> {
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    if (body.resource_account_id !== accountId) {
      throw new ValidationError(
        "resource_account_id must be the share owner's account",
        '/resource_account_id',
      );
    }
    checkMeta(this.types, body.resource_type, body.meta, '/meta');
    const now = this.clock.timestamp();
    const row: ResourceRow = {
      id: this.ids.next(),
      share_id: shareId,
      resource_id: body.resource_id,
      resource_type: body.resource_type,
      resource_account_id: body.resource_account_id,
      meta: body.meta,
      status: 'active',
      resource_version: 1,
      created: now,
      modified: now,
    };
    const outcome = await this.store.resources.add(row, [
      auditEntry(actor, now, {
        account: ownerOf(share),
        action: 'create',
        description: 'Add share resource',
        resource: { type: 'share_resource', id: row.id },
        new: auditedResource(row),
        metadata: { share_id: shareId },
      }),
    ]);
    if (outcome === 'inactive') throw shareNotActive('deleting');
    if (outcome === 'duplicate') {
      throw new ConflictError(
        `Resource ${body.resource_type} ${body.resource_id} is already part of the share`,
      );
    }
    return toResourceObject(row);
  }

  async update(
    accountId: string,
    shareId: string,
    id: string,
    body: UpdateResourceBody,
    actor: AuditActor,
  ): Promise<ResourceObject> {
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    const current = await this.activeResource(shareId, id);
    // Only new writes meet a schema made stricter since the resource was stored.
    checkMeta(this.types, current.resource_type, body.meta, '/meta');
    const now = this.clock.timestamp();
    return this.writeFromRead(share, current, actor, now, {
      action: 'update',
      description: 'Update share resource',
      plan: (read) => ({
        ...read,
        meta: body.meta,
        resource_version: read.resource_version + 1,
        modified: now,
      }),
      write: (read, audit) => this.store.resources.updateMeta(read, body.meta, now, audit),
    });
  }

  async delete(accountId: string, shareId: string, id: string, actor: AuditActor): Promise<ResourceObject> {
    const share = await ownedActiveShare(this.store.shares, accountId, shareId);
    const current = await this.activeResource(shareId, id);
    const now = this.clock.timestamp();
    return this.writeFromRead(share, current, actor, now, {
      action: 'delete',
      description: 'Delete share resource',
      plan: (read) => ({ ...read, status: 'deleting', modified: now }),
      write: (read, audit) => this.store.resources.markDeleting(read, now, audit),
    });
  }

  /**
   * Plans a change and its audit entry from the version read, and writes both only if that version still
   * holds; a concurrent change (each 'stale' is one that committed) makes it read and plan again, up to
   * WRITE_ATTEMPTS times, so writers that never stop cannot hold a request (and its connection) forever.
   */
  private async writeFromRead(
    share: ShareView,
    read: ResourceRow,
    actor: AuditActor,
    now: string,
    change: {
      action: 'update' | 'delete';
      description: string;
      plan: (read: ResourceRow) => ResourceRow;
      write: (read: ResourceRow, audit: readonly AuditEntry[]) => Promise<ResourceRow | 'stale' | 'inactive'>;
    },
  ): Promise<ResourceObject> {
    let current = read;
    for (let attempt = 1; ; attempt++) {
      const audit = auditEntry(actor, now, {
        account: ownerOf(share),
        action: change.action,
        description: change.description,
        resource: { type: 'share_resource', id: current.id },
        ...auditedChange(current, change.plan(current)),
        metadata: { share_id: current.share_id },
      });
      const written = await change.write(current, [audit]);
      if (written === 'inactive') throw new ConflictError('The share or resource is no longer active');
      if (written !== 'stale') return toResourceObject(written);
      if (attempt === WRITE_ATTEMPTS) {
        throw new ContendedError(
          'The resource kept changing during this request; nothing was written, try again',
        );
      }
      current = await this.activeResource(current.share_id, current.id);
    }
  }

  /** The resource, refused unless active. */
  private async activeResource(shareId: string, id: string): Promise<ResourceRow> {
    const current = await this.find(shareId, id);
    if (current.status !== 'active') throw resourceNotActive(current.status);
    return current;
  }

  private async find(shareId: string, id: string): Promise<ResourceRow> {
    const row = await this.store.resources.get(shareId, id);
    if (!row) throw new NotFoundError(RESOURCE_NOT_FOUND);
    return row;
  }
}

function resourceNotActive(status: string): ConflictError {
  return new ConflictError(`The resource is ${status} and can no longer be changed`);
}

/**
 * The old and new values of a change to a resource: its identity and state, and of its meta only the
 * top-level keys that changed (a meta of up to 1 MB is not kept twice for a one-key edit).
 */
function auditedChange(before: ResourceRow, after: ResourceRow) {
  const meta = metaDiff(before.meta, after.meta);
  return {
    old: { ...auditedResource(before), meta: meta.old },
    new: { ...auditedResource(after), meta: meta.new },
  };
}

/** What an audit entry keeps of a resource: what a change can alter, and what identifies it. */
function auditedResource(r: ResourceRow) {
  return {
    resource_id: r.resource_id,
    resource_type: r.resource_type,
    meta: r.meta,
    status: r.status,
    resource_version: r.resource_version,
  };
}
