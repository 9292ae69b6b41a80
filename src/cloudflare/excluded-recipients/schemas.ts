import { Type, type Static } from '@sinclair/typebox';
import { Identifier, PageQuery, Timestamp } from '../../http/common-schemas.js';
import { MAX_RECIPIENTS } from '../recipients/schemas.js';

export const ExcludedRecipientObject = Type.Object({
  id: Identifier('Share Excluded Recipient identifier tag.'),
  account_id: Identifier('Account identifier.'),
  created: Timestamp('When the share was created.'),
  modified: Timestamp('When the share was modified.'),
});
export type ExcludedRecipientObject = Static<typeof ExcludedRecipientObject>;

export const ExcludedRecipientRequest = Type.Object({
  account_id: Type.String({
    minLength: 1,
    maxLength: 32,
    description: 'The account to exclude from the organization-targeted share.',
  }),
});
export type ExcludedRecipientRequest = Static<typeof ExcludedRecipientRequest>;

export const ReplaceExcludedRecipientsBody = Type.Array(ExcludedRecipientRequest, {
  maxItems: MAX_RECIPIENTS,
});
export type ReplaceExcludedRecipientsBody = Static<typeof ReplaceExcludedRecipientsBody>;

export const ExcludedRecipientParams = Type.Object({
  account_id: Identifier('Account identifier.'),
  share_id: Identifier('Share identifier.'),
  excluded_recipient_id: Identifier('Share Excluded Recipient identifier tag.'),
});

export const ListExcludedRecipientsQuery = Type.Object(PageQuery);
export type ListExcludedRecipientsQuery = Static<typeof ListExcludedRecipientsQuery>;
