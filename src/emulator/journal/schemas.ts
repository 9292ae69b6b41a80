import { Type, type Static } from '@sinclair/typebox';
import { AnyKey, Timestamp } from '../../http/common-schemas.js';

export const DEFAULT_JOURNAL_SIZE = 1000;
/** Bytes the journal keeps in all (its entries as listed): 16 MiB. */
export const DEFAULT_JOURNAL_BYTES = 16 * 1024 * 1024;
/** Bytes of one body's JSON kept before it is truncated: 64 KiB. */
export const DEFAULT_JOURNAL_BODY_BYTES = 64 * 1024;

const Caller = Type.Union([
  Type.Object({ type: Type.Literal('token'), id: Type.String({ description: 'API token identifier.' }) }),
  Type.Object({ type: Type.Literal('user'), email: Type.String({ description: 'The user email.' }) }),
  Type.Null(),
]);
export type Caller = Static<typeof Caller>;

export const JournalEntry = Type.Object({
  time: Timestamp('When rshare answered.'),
  method: Type.String(),
  path: Type.String({ description: 'The path as requested, without the query string.' }),
  query: Type.Record(AnyKey, Type.Union([Type.String(), Type.Array(Type.String())]), {
    description: 'The query string as sent (repeated parameters as arrays).',
  }),
  operation_id: Type.Union([Type.String(), Type.Null()], { description: 'Null for an unknown route.' }),
  status: Type.Integer(),
  request_id: Type.String(),
  caller: Caller,
  body_truncated: Type.Boolean({
    description:
      'True when the body was over the per-entry cap: `body` is then a string, its JSON text cut there.',
  }),
  body: Type.Unknown({
    description:
      'The JSON body as sent, or null (none, not JSON, unread, or refused by a parsing limit such as nesting).',
  }),
});
export type JournalEntry = Static<typeof JournalEntry>;

export const JournalQuery = Type.Object({
  method: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
  path: Type.Optional(
    Type.String({ minLength: 1, maxLength: 1024, description: 'Glob, as for fault rules.' }),
  ),
  operation_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  since: Type.Optional(Timestamp('Entries answered at or after this instant.')),
});
export type JournalQuery = Static<typeof JournalQuery>;
