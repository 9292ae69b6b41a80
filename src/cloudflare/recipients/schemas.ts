import { Type, type Static } from '@sinclair/typebox';
import { Identifier, PageQuery, StringEnum, Timestamp } from '../../http/common-schemas.js';

export const AssociationStatus = StringEnum(
  ['associating', 'associated', 'disassociating', 'disassociated'] as const,
  { description: 'The current state of the recipient relative to the share.' },
);

export const RecipientResourceObject = Type.Object({
  resource_id: Identifier('Share Resource identifier.'),
  resource_version: Type.Integer({ description: 'Resource Version.' }),
  error: Type.String({ description: 'Share Recipient error message.' }),
  terminal: Type.Boolean({ description: 'Whether the error is terminal or will be continually retried.' }),
});

export const RecipientObject = Type.Object({
  id: Identifier('Share Recipient identifier tag.'),
  account_id: Identifier('Account identifier.'),
  association_status: AssociationStatus,
  created: Timestamp('When the share was created.'),
  modified: Timestamp('When the share was modified.'),
  resources: Type.Optional(Type.Array(RecipientResourceObject)),
});
export type RecipientObject = Static<typeof RecipientObject>;

const AccountField = (description: string) =>
  Type.Optional(Type.String({ minLength: 1, maxLength: 32, description }));

/** One recipient in a request: an account (new or deprecated field name) or the caller's organization. */
export const RecipientRequest = Type.Object({
  recipient_account_id: AccountField('The account that will receive the share.'),
  account_id: AccountField('Deprecated alias for `recipient_account_id`.'),
  /** What the official SDK (7.x) sends for its `body_account_id` parameter: another alias. */
  body_account_id: AccountField('Alias for `recipient_account_id` (sent by the official SDK).'),
  organization_id: AccountField('Organization identifier.'),
});
export type RecipientRequest = Static<typeof RecipientRequest>;

/** Cloudflare's organization limit is 500 accounts; leave room above it. */
export const MAX_RECIPIENTS = 1000;
export const ReplaceRecipientsBody = Type.Array(RecipientRequest, { maxItems: MAX_RECIPIENTS });
export type ReplaceRecipientsBody = Static<typeof ReplaceRecipientsBody>;

export const RecipientParams = Type.Object({
  account_id: Identifier('Account identifier.'),
  share_id: Identifier('Share identifier.'),
  recipient_id: Identifier('Share Recipient identifier tag.'),
});

export const IncludeResourcesQuery = {
  include_resources: Type.Optional(Type.Boolean({ description: 'Include resources in the response.' })),
};

export const ListRecipientsQuery = Type.Object({ ...IncludeResourcesQuery, ...PageQuery });
export type ListRecipientsQuery = Static<typeof ListRecipientsQuery>;
export const GetRecipientQuery = Type.Object(IncludeResourcesQuery);
export type GetRecipientQuery = Static<typeof GetRecipientQuery>;
