import { Type, type Static } from '@sinclair/typebox';
import { ErrorItem, Identifier, StringEnum } from '../../http/common-schemas.js';

const AnyJson = Type.Unknown();

// Field names as Cloudflare serves them and the `cloudflare` 7.3.0 SDK types them (`Shared.AuditLog` for
// version 1, `AuditListResponse` for version 2).

/** Version 1: `GET /accounts/{account_id}/audit_logs`. */
export const AuditLogV1 = Type.Object({
  id: Type.String({ description: 'A string that uniquely identifies the audit log.' }),
  action: Type.Object({
    type: Type.String({ description: 'A short string that describes the action that was performed.' }),
    result: Type.Boolean({ description: 'Whether the action attempted was successful.' }),
  }),
  actor: Type.Object({
    id: Type.Optional(Type.String()),
    email: Type.Optional(Type.String()),
    ip: Type.Optional(Type.String()),
    type: StringEnum(['user', 'admin', 'Cloudflare'] as const),
  }),
  interface: Type.String({ description: 'The source of the event: API, CLI or system.' }),
  metadata: AnyJson,
  newValue: Type.Optional(Type.String({ description: 'The new value of the resource, as JSON text.' })),
  oldValue: Type.Optional(Type.String({ description: 'The value before the change, as JSON text.' })),
  owner: Type.Object({ id: Type.String() }),
  resource: Type.Object({ id: Type.String(), type: Type.String() }),
  when: Type.String({ format: 'date-time' }),
});
export type AuditLogV1 = Static<typeof AuditLogV1>;

const DateOrTime = (description: string) =>
  Type.String({
    maxLength: 40,
    description: `${description} A date (2019-04-30, UTC) or an RFC 3339 timestamp.`,
  });

export const ListAuditLogsV1Query = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 64, description: 'Finds a specific log by its ID.' })),
  'action.type': Type.Optional(Type.String({ maxLength: 64, description: 'Filters by the action type.' })),
  'actor.email': Type.Optional(
    Type.String({ maxLength: 255, description: 'Filters by the email of the actor.' }),
  ),
  'actor.ip': Type.Optional(
    Type.String({ maxLength: 64, description: 'Filters by the IP address of the request.' }),
  ),
  'zone.name': Type.Optional(
    Type.String({ maxLength: 255, description: 'rshare has no zones: no entry matches.' }),
  ),
  since: Type.Optional(DateOrTime('Logs newer than (or at) this time.')),
  before: Type.Optional(DateOrTime('Logs older than this time.')),
  direction: Type.Optional(StringEnum(['desc', 'asc'] as const, { description: 'Default desc.' })),
  export: Type.Optional(Type.Boolean()),
  hide_user_logs: Type.Optional(Type.Boolean()),
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Page number (default 1).' }),
  ),
  per_page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'Entries per page (default 100).' }),
  ),
});
export type ListAuditLogsV1Query = Static<typeof ListAuditLogsV1Query>;

export const AuditLogsV1Page = Type.Object({
  success: Type.Boolean(),
  errors: Type.Array(ErrorItem),
  messages: Type.Array(Type.Unknown()),
  result: Type.Array(AuditLogV1),
  result_info: Type.Object({ page: Type.Integer(), per_page: Type.Integer(), count: Type.Integer() }),
});

/** Version 2: `GET /accounts/{account_id}/logs/audit`. */
export const AuditLogV2 = Type.Object({
  id: Type.String(),
  account: Type.Object({ id: Type.String(), name: Type.Optional(Type.String()) }),
  action: Type.Object({
    description: Type.String(),
    result: StringEnum(['success', 'failure'] as const),
    time: Type.String({ format: 'date-time' }),
    type: Type.String(),
  }),
  actor: Type.Object({
    id: Type.Optional(Type.String()),
    context: Type.Optional(
      StringEnum(['api', 'api_key', 'api_token', 'dash', 'oauth', 'origin_ca_key'] as const),
    ),
    email: Type.Optional(Type.String()),
    ip_address: Type.Optional(Type.String()),
    token_id: Type.Optional(Type.String()),
    token_name: Type.Optional(Type.String()),
    type: StringEnum(['account', 'cloudflare_admin', 'delegated_service', 'system', 'user'] as const),
  }),
  raw: Type.Object({
    cf_ray_id: Type.Optional(Type.String()),
    method: Type.Optional(Type.String()),
    status_code: Type.Optional(Type.Integer()),
    uri: Type.Optional(Type.String()),
    user_agent: Type.Optional(Type.String()),
  }),
  resource: Type.Object({
    id: Type.String(),
    product: Type.String(),
    request: AnyJson,
    response: AnyJson,
    scope: AnyJson,
    type: Type.String(),
  }),
});
export type AuditLogV2 = Static<typeof AuditLogV2>;

/** The filters version 2 takes, each repeatable and each with a `.not` variant. */
export const V2_FILTERS = {
  id: 'id',
  audit_log_id: 'id',
  account_name: 'account_name',
  action_result: 'action_result',
  action_type: 'action_type',
  actor_context: 'actor_context',
  actor_email: 'actor_email',
  actor_id: 'actor_id',
  actor_ip_address: 'actor_ip',
  actor_token_id: 'actor_token_id',
  actor_token_name: 'actor_token_name',
  actor_type: 'actor_type',
  raw_cf_ray_id: 'raw_ray_id',
  raw_method: 'raw_method',
  raw_status_code: 'raw_status_code',
  raw_uri: 'raw_uri',
  resource_id: 'resource_id',
  resource_product: 'resource_product',
  resource_scope: 'resource_scope',
  resource_type: 'resource_type',
  /** rshare's own: every entry about one share, its recipients, resources and exclusions included. */
  share_id: 'share_id',
} as const;
export type V2FilterName = keyof typeof V2_FILTERS;

const FilterValues = Type.Optional(
  Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 100, description: 'Repeatable.' }),
);
const filterProperties: Record<string, typeof FilterValues> = {};
for (const name of [...Object.keys(V2_FILTERS), 'zone_id', 'zone_name']) {
  filterProperties[name] = FilterValues;
  filterProperties[`${name}.not`] = FilterValues;
}

export const ListAuditLogsV2Query = Type.Object({
  since: DateOrTime('Logs newer than (or at) this time (required).'),
  before: DateOrTime('Logs older than this time (required).'),
  direction: Type.Optional(StringEnum(['desc', 'asc'] as const, { description: 'Default desc.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 100.' })),
  cursor: Type.Optional(
    Type.String({ maxLength: 200, description: 'From result_info of the previous page.' }),
  ),
  product_category: FilterValues,
  ...filterProperties,
});
export interface ListAuditLogsV2Query {
  since: string;
  before: string;
  direction?: 'desc' | 'asc';
  limit?: number;
  cursor?: string;
  product_category?: string[];
  [filter: string]: string[] | string | number | undefined;
}

export const AuditLogsV2Page = Type.Object({
  success: Type.Boolean(),
  errors: Type.Array(ErrorItem),
  messages: Type.Array(Type.Unknown()),
  result: Type.Array(AuditLogV2),
  result_info: Type.Object({
    count: Type.Integer(),
    /** Cloudflare's own place for the next cursor. */
    cursor: Type.Optional(Type.String()),
    /** Where the `cloudflare` SDK's `CursorPaginationAfter` reads it. */
    cursors: Type.Optional(Type.Object({ after: Type.Optional(Type.String()) })),
  }),
});

export const AuditParams = Type.Object({ account_id: Identifier('Account identifier.') });
