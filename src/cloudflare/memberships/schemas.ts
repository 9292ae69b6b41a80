import { Type, type Static } from '@sinclair/typebox';
import { AccountObject } from '../accounts/schemas.js';
import { Identifier, StringEnum } from '../../http/common-schemas.js';

const Grant = Type.Object({ read: Type.Boolean(), write: Type.Boolean() });

/** Cloudflare's permission keys of a membership (the SDK's `Membership.Permissions`). */
export const PERMISSION_KEYS = [
  'analytics',
  'billing',
  'cache_purge',
  'dns',
  'dns_records',
  'lb',
  'logs',
  'organization',
  'ssl',
  'waf',
  'zone_settings',
  'zones',
] as const;

export const MEMBERSHIP_ROLES = { edit: 'Administrator', read: 'Administrator Read Only' } as const;

/** Cloudflare's `Membership` (the SDK's `client.memberships.list` item). */
export const MembershipObject = Type.Object({
  id: Identifier('Membership identifier tag.'),
  account: AccountObject,
  api_access_enabled: Type.Union([Type.Boolean(), Type.Null()], {
    description: 'Enterprise only: whether API access is enabled for this user on the account.',
  }),
  permissions: Type.Object(Object.fromEntries(PERMISSION_KEYS.map((k) => [k, Grant])), {
    description: 'All access permissions for the user at the account.',
  }),
  roles: Type.Array(Type.String(), { description: 'Role names the membership has for this account.' }),
  status: StringEnum(['accepted', 'pending', 'rejected'] as const, {
    description: 'Status of this membership.',
  }),
});
export type MembershipObject = Static<typeof MembershipObject>;

export const ListMembershipsQuery = Type.Object({
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Page number (default 1).' }),
  ),
  per_page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 50, description: 'Memberships per page (default 20).' }),
  ),
  name: Type.Optional(Type.String({ maxLength: 100, description: 'Account name (substring, any case).' })),
  'account.name': Type.Optional(
    Type.String({ maxLength: 100, description: 'Account name (substring, any case).' }),
  ),
  status: Type.Optional(
    StringEnum(['accepted', 'pending', 'rejected'] as const, {
      description: 'Status of the membership (every membership rshare lists is accepted).',
    }),
  ),
  order: Type.Optional(
    StringEnum(['account.name', 'status'] as const, {
      description: 'Field to order memberships by (status orders as account.name: all are accepted).',
    }),
  ),
  direction: Type.Optional(
    StringEnum(['asc', 'desc'] as const, { description: 'Direction to order memberships.' }),
  ),
});
export type ListMembershipsQuery = Static<typeof ListMembershipsQuery>;
