import { Type, type Static } from '@sinclair/typebox';
import {
  AnyKey,
  Identifier,
  PageQuery,
  ResourceType,
  StringEnum,
  Timestamp,
} from '../../http/common-schemas.js';
import { RecipientRequest, MAX_RECIPIENTS } from '../recipients/schemas.js';
import { CreateResourceBody, ResourceObject } from '../resources/schemas.js';

export const ShareStatus = StringEnum(['active', 'deleting', 'deleted'] as const);
export const TargetType = StringEnum(['account', 'organization'] as const);
export const ShareKind = StringEnum(['sent', 'received'] as const);

export const MAX_NAME_LENGTH = 255;
export const MAX_TAGS = 50;
export const MAX_RESOURCES = 100;

export const ShareName = Type.String({
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: '\\S',
  description: 'The name of the share.',
});

export const MAX_TAG_KEY_LENGTH = 256;

/**
 * Tags: string keys (1-256 characters, no "=" so `tag=key=value` filters stay unambiguous) to string
 * values (at most 1024 characters), at most 50 per share. The key rules are checked by the service
 * (`checkTags`) so the error can point at the offending key: as a `patternProperties` key schema they
 * were silently skipped by validation and then dropped from responses by the serializer.
 */
export const Tags = Type.Record(AnyKey, Type.String({ maxLength: 1024 }), {
  maxProperties: MAX_TAGS,
  description:
    'Key/value labels for filtering shares with `tag`. Keys are 1-256 characters without "="; values at most 1024 characters.',
});

export const ShareObject = Type.Object({
  id: Identifier('Share identifier tag.'),
  name: Type.String({ description: 'The name of the share.' }),
  account_id: Identifier('Account identifier.'),
  account_name: Type.String({ description: 'The display name of an account.' }),
  organization_id: Identifier('Organization identifier.'),
  created: Timestamp('When the share was created.'),
  modified: Timestamp('When the share was modified.'),
  status: ShareStatus,
  target_type: TargetType,
  kind: Type.Optional(ShareKind),
  tags: Type.Optional(Tags),
  resources: Type.Optional(Type.Array(ResourceObject)),
  associating_recipient_count: Type.Optional(Type.Integer()),
  associated_recipient_count: Type.Optional(Type.Integer()),
  disassociating_recipient_count: Type.Optional(Type.Integer()),
  disassociated_recipient_count: Type.Optional(Type.Integer()),
});
export type ShareObject = Static<typeof ShareObject>;

export const CreateShareBody = Type.Object({
  name: ShareName,
  recipients: Type.Array(RecipientRequest, { maxItems: MAX_RECIPIENTS }),
  resources: Type.Array(CreateResourceBody, { maxItems: MAX_RESOURCES }),
  tags: Type.Optional(Tags),
});
export type CreateShareBody = Static<typeof CreateShareBody>;

export const UpdateShareBody = Type.Object({ name: ShareName, tags: Type.Optional(Tags) });
export type UpdateShareBody = Static<typeof UpdateShareBody>;

const Includes = {
  include_resources: Type.Optional(Type.Boolean({ description: 'Include resources in the response.' })),
  include_recipient_counts: Type.Optional(
    Type.Boolean({ description: 'Include recipient counts in the response.' }),
  ),
};

const ListFilters = {
  status: Type.Optional(ShareStatus),
  kind: Type.Optional(ShareKind),
  target_type: Type.Optional(TargetType),
  resource_types: Type.Optional(Type.Array(ResourceType)),
  order: Type.Optional(StringEnum(['name', 'created'] as const)),
  direction: Type.Optional(StringEnum(['asc', 'desc'] as const)),
  ...PageQuery,
};

export const ListSharesQuery = Type.Object({
  ...ListFilters,
  ...Includes,
  tag: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1281 }), { maxItems: 20 })),
});
export type ListSharesQuery = Static<typeof ListSharesQuery>;

export const ListOrganizationSharesQuery = Type.Object(ListFilters);
export type ListOrganizationSharesQuery = Static<typeof ListOrganizationSharesQuery>;

export const GetShareQuery = Type.Object(Includes);
export type GetShareQuery = Static<typeof GetShareQuery>;

export const OrganizationParams = Type.Object({ organization_id: Identifier('Organization identifier.') });
