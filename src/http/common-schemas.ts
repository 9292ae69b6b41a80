import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ID_PATTERN } from '../lib/ids.js';
import { RESOURCE_TYPES } from '../lib/resource-types.js';

/** Identifiers as the contract declares them: strings of at most 32 characters. */
export const Identifier = (description: string) => Type.String({ maxLength: 32, description });
/** How every writer stamps rows: UTC with microseconds, so text order is time order (SQLite sorts text). */
export const TIMESTAMP_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z$';
/** A SHA-256 digest in lowercase hex. */
export const DIGEST_PATTERN = '^[0-9a-f]{64}$';
/** A stored object id (32 lowercase hex characters) and a stored timestamp, as a state document holds them. */
export const StoredId = Type.String({ pattern: ID_PATTERN });
export const StoredStamp = Type.String({ pattern: TIMESTAMP_PATTERN, format: 'date-time' });
export const Timestamp = (description: string) =>
  Type.String({ format: 'date-time', description, examples: ['2023-09-21T18:56:32.624632Z'] });

/**
 * The keys of a `Type.Record`: any string. TypeBox's default key pattern `^(.*)$` stops at a line break,
 * so a key holding one was neither validated (`{"tags": {"a\nb": {}}}` reached the store) nor serialized.
 */
export const AnyKey = Type.String({ pattern: '^[\\s\\S]*$' });

/** A string enum as the contract writes it (`type: string, enum: [...]`), so errors name the allowed values. */
export const StringEnum = <const T extends readonly string[]>(
  values: T,
  options: { description?: string } = {},
) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

/**
 * Marks the schemas whose content depends on the server's resource types: the app replaces them, at build
 * time, with its registry's (see `bindResourceTypes`). Symbols: never part of the served schemas.
 */
export const RESOURCE_TYPE_SLOT = Symbol('rshare.resource-type');
export const RESOURCE_META_SLOT = Symbol('rshare.resource-meta');
export const ENTITLEMENT_SLOT = Symbol('rshare.entitlement');

/**
 * A resource type: the built-in list as written; a server with a resource-types file gets its own enum.
 * Any string statically, since declared types are only known at start.
 */
export const ResourceType = Type.Unsafe<string>({
  type: 'string',
  enum: [...RESOURCE_TYPES],
  description: 'Resource Type.',
  [RESOURCE_TYPE_SLOT]: true,
});
export type ResourceType = Static<typeof ResourceType>;

/** An account entitlement: a resource type's name, or what the resource-types file declares for it. */
export const Entitlement = Type.Unsafe<string>({
  type: 'string',
  enum: [...RESOURCE_TYPES],
  description: 'Resource Type.',
  [ENTITLEMENT_SLOT]: true,
});

/** A cause under a general error code, as Cloudflare nests it (`error_chain` of a header refusal). */
export const ErrorChainItem = Type.Object({ code: Type.Integer(), message: Type.String() });

export const ErrorItem = Type.Object({
  code: Type.Integer(),
  message: Type.String(),
  source: Type.Optional(Type.Object({ pointer: Type.String() })),
  error_chain: Type.Optional(
    Type.Array(ErrorChainItem, { description: 'The specific causes under this code.' }),
  ),
});
export type ErrorItem = Static<typeof ErrorItem>;

const Message = Type.Object({
  code: Type.Integer(),
  message: Type.String(),
  type: Type.Union([Type.String(), Type.Null()]),
});

export const ResultInfo = Type.Object({
  page: Type.Integer(),
  per_page: Type.Integer(),
  count: Type.Integer(),
  total_count: Type.Integer(),
  total_pages: Type.Integer(),
});
export type ResultInfo = Static<typeof ResultInfo>;

/** `{success, errors, messages, result}` around one object. */
export const Single = <T extends TSchema>(result: T) =>
  Type.Object({
    success: Type.Boolean(),
    errors: Type.Array(ErrorItem),
    messages: Type.Array(Message),
    result,
  });

/** `{success, errors, messages, result: [...], result_info}` around a page of objects. */
export const Collection = <T extends TSchema>(item: T) =>
  Type.Object({
    success: Type.Boolean(),
    errors: Type.Array(ErrorItem),
    messages: Type.Array(Message),
    result: Type.Array(item),
    result_info: ResultInfo,
  });

/** A 204's (empty) body: the document lists the status with no content, as Cloudflare's does. */
export const NoContent = Type.Null({ description: 'No Content' });

export const Failure = Type.Object({
  success: Type.Literal(false),
  errors: Type.Array(ErrorItem),
  messages: Type.Array(Message),
  result: Type.Null(),
});
export type Failure = Static<typeof Failure>;

export const PageQuery = {
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Page number (default 1).' }),
  ),
  per_page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, description: 'Objects per page (default 20).' }),
  ),
};

export const AccountParams = Type.Object({ account_id: Identifier('Account identifier.') });
export const ShareParams = Type.Object({
  account_id: Identifier('Account identifier.'),
  share_id: Identifier('Share identifier.'),
});
