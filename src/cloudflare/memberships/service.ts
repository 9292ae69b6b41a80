import { createHash } from 'node:crypto';
import type { AccountObject } from '../accounts/schemas.js';
import { accountsInScope } from '../accounts/service.js';
import type { AccountsStore } from '../accounts/store.js';
import type { Principal } from '../../platform/tenancy/auth.js';
import type { Page } from '../../http/envelope.js';
import {
  MEMBERSHIP_ROLES,
  PERMISSION_KEYS,
  type ListMembershipsQuery,
  type MembershipObject,
} from './schemas.js';

/**
 * A membership's id: stable for one credential and account, different for another credential on the
 * same account, and revealing neither (domain-separated digest).
 */
export function membershipId(principal: Pick<Principal, 'kind' | 'id'>, accountId: string): string {
  return createHash('sha256')
    .update(`rshare membership\0${principal.kind}\0${principal.id}\0${accountId}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

/**
 * rshare has one grant per credential, the same on every account of its scope: read, or read and edit.
 * It is reported as Cloudflare reports its two administrator roles: every permission readable, and
 * writable only with edit.
 */
function membership(principal: Principal, account: AccountObject): MembershipObject {
  const grant = { read: true, write: principal.canEdit };
  return {
    id: membershipId(principal, account.id),
    account,
    api_access_enabled: null,
    permissions: Object.fromEntries(PERMISSION_KEYS.map((k) => [k, { ...grant }])),
    roles: [principal.canEdit ? MEMBERSHIP_ROLES.edit : MEMBERSHIP_ROLES.read],
    status: 'accepted',
  };
}

/** Cloudflare's `GET /memberships`: one accepted membership per account in the caller's scope. */
export class MembershipsService {
  constructor(private readonly accounts: AccountsStore) {}

  async list(
    principal: Principal,
    query: ListMembershipsQuery,
    page: Page,
  ): Promise<{ items: MembershipObject[]; total: number }> {
    // Every membership is accepted: asking for another status finds none.
    if (query.status !== undefined && query.status !== 'accepted') return { items: [], total: 0 };
    const name = query['account.name'] ?? query.name;
    const { items, total } = await accountsInScope(
      this.accounts,
      principal,
      { ...(name === undefined ? {} : { name }), ...(query.direction ? { direction: query.direction } : {}) },
      page,
    );
    return { items: items.map((account) => membership(principal, account)), total };
  }
}
