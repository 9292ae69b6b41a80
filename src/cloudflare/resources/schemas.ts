import { Type, type Static } from '@sinclair/typebox';
import {
  AnyKey,
  Identifier,
  PageQuery,
  RESOURCE_META_SLOT,
  ResourceType,
  StringEnum,
  Timestamp,
} from '../../http/common-schemas.js';

export const ResourceStatus = StringEnum(['active', 'deleting', 'deleted'] as const, {
  description: 'Resource Status.',
});

export const ResourceMeta = Type.Record(AnyKey, Type.Unknown(), {
  description: 'Resource Metadata.',
  [RESOURCE_META_SLOT]: true,
});

export const ResourceObject = Type.Object({
  id: Identifier('Share Resource identifier.'),
  resource_id: Identifier('Share Resource identifier.'),
  resource_type: ResourceType,
  resource_account_id: Identifier('Account identifier.'),
  meta: ResourceMeta,
  status: ResourceStatus,
  resource_version: Type.Integer({ description: 'Resource Version.' }),
  created: Timestamp('When the share was created.'),
  modified: Timestamp('When the share was modified.'),
});
export type ResourceObject = Static<typeof ResourceObject>;

export const CreateResourceBody = Type.Object({
  resource_id: Type.String({ minLength: 1, maxLength: 32, description: 'Share Resource identifier.' }),
  resource_type: ResourceType,
  resource_account_id: Type.String({ minLength: 1, maxLength: 32, description: 'Account identifier.' }),
  meta: ResourceMeta,
});
export type CreateResourceBody = Static<typeof CreateResourceBody>;

export const UpdateResourceBody = Type.Object({ meta: ResourceMeta });
export type UpdateResourceBody = Static<typeof UpdateResourceBody>;

export const ResourceParams = Type.Object({
  account_id: Identifier('Account identifier.'),
  share_id: Identifier('Share identifier.'),
  share_resource_id: Identifier('Share Resource identifier.'),
});

export const ListResourcesQuery = Type.Object({
  status: Type.Optional(ResourceStatus),
  resource_type: Type.Optional(ResourceType),
  ...PageQuery,
});
export type ListResourcesQuery = Static<typeof ListResourcesQuery>;
