import { Type, type Static } from '@sinclair/typebox';
import { Identifier, PageQuery, ResourceType, Timestamp } from '../../http/common-schemas.js';
import { ResourceMeta } from '../resources/schemas.js';

/** A resource shared into the caller's account, as the inventory driver applied it. */
export const SharedResourceObject = Type.Object({
  id: Identifier('Share Resource identifier (as in the owner share).'),
  share_id: Identifier('Share identifier.'),
  resource_id: Identifier('The shared resource.'),
  resource_type: ResourceType,
  resource_account_id: Identifier('The owner account of the resource.'),
  meta: ResourceMeta,
  resource_version: Type.Integer({ description: 'The version applied in this account.' }),
  created: Timestamp('When it was first applied here.'),
  modified: Timestamp('When it was last applied here.'),
});
export type SharedResourceObject = Static<typeof SharedResourceObject>;

export const ListSharedResourcesQuery = Type.Object(PageQuery);
