import { Type, type Static } from '@sinclair/typebox';
import { Identifier, PageQuery, StringEnum, Timestamp } from '../../http/common-schemas.js';

/** Cloudflare's `Account` (the SDK's `client.accounts.list` item). */
export const AccountObject = Type.Object({
  id: Identifier('Identifier'),
  name: Type.String({ description: 'Account name' }),
  type: StringEnum(['standard', 'enterprise'] as const),
  created_on: Type.Optional(Timestamp('Timestamp for the creation of the account')),
  managed_by: Type.Optional(
    Type.Object({
      parent_org_id: Type.Optional(Identifier('ID of the parent Organization, if one exists')),
      parent_org_name: Type.Optional(Type.String({ description: 'Name of the parent Organization' })),
    }),
  ),
  settings: Type.Optional(
    Type.Object({
      abuse_contact_email: Type.Optional(Type.String()),
      enforce_twofactor: Type.Optional(Type.Boolean()),
    }),
  ),
});
export type AccountObject = Static<typeof AccountObject>;

export const ListAccountsQuery = Type.Object({
  ...PageQuery,
  name: Type.Optional(
    Type.String({ maxLength: 100, description: 'Name of the account (substring, any case).' }),
  ),
  direction: Type.Optional(
    StringEnum(['asc', 'desc'] as const, { description: 'Direction to order results.' }),
  ),
});
export type ListAccountsQuery = Static<typeof ListAccountsQuery>;
