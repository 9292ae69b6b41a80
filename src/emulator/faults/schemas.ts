import { Type, type Static } from '@sinclair/typebox';
import { Identifier, ResourceType, StringEnum } from '../../http/common-schemas.js';

export const FAULT_STATUSES = [429, 500, 502, 503, 504] as const;
export type FaultStatus = (typeof FAULT_STATUSES)[number];
export const FAULT_METHODS = ['*', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const MAX_LATENCY_MS = 60_000;
export const DEFAULT_RETRY_AFTER_S = 1;
export const DEFAULT_DELIVERY_ERROR = 'Injected delivery fault';

const Status = Type.Unsafe<FaultStatus>({
  type: 'integer',
  enum: [...FAULT_STATUSES],
  description: 'The status to answer with: 429 as Cloudflare rate-limits, 5xx with a server-error code.',
});
const Method = StringEnum(FAULT_METHODS, { description: 'The method to fault; `*` for any.' });
const Path = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'Glob over the path after `/client/v4`: `*` one segment, `**` any number.',
});
const Count = Type.Integer({
  minimum: 1,
  description: 'How many times the rule fires; unlimited if absent.',
});
const Fired = Type.Integer({ description: 'How many times the rule fired.' });
const Seen = Type.Integer({ description: 'How many requests or deliveries matched the rule so far.' });
const RuleId = Type.String({ description: 'Fault rule identifier.' });

/**
 * One schema for both kinds of rule, told apart by `target` (default `http`); which fields go with which
 * target is checked by the service. A union (anyOf) would report the first branch's error for a bad
 * delivery rule, and Ajv's removeAdditional would strip fields in one branch before trying the next.
 */
export const FaultRuleBody = Type.Object({
  target: Type.Optional(StringEnum(['http', 'delivery'] as const, { description: 'Default `http`.' })),
  method: Type.Optional(Method),
  path: Type.Optional(Path),
  status: Type.Optional(Status),
  probability: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Default 1.' })),
  count: Type.Optional(Count),
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'Matching requests let through first.' })),
  latency_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LATENCY_MS })),
  retry_after_s: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 3600, description: 'For 429: default 1.' }),
  ),
  account_id: Type.Optional(Identifier('Recipient account whose deliveries fail; any if absent.')),
  resource_type: Type.Optional(ResourceType),
  terminal: Type.Optional(Type.Boolean({ description: 'Terminal (settled) or retryable; default false.' })),
  message: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The delivery error.' })),
});
export type FaultRuleBody = Static<typeof FaultRuleBody>;

export const HttpFaultRule = Type.Object({
  id: RuleId,
  target: Type.Literal('http'),
  method: Method,
  path: Path,
  status: Type.Optional(Status),
  latency_ms: Type.Optional(Type.Integer()),
  retry_after_s: Type.Optional(Type.Integer()),
  probability: Type.Number(),
  after: Type.Integer(),
  count: Type.Optional(Count),
  fired: Fired,
  seen: Seen,
});
export type HttpFaultRule = Static<typeof HttpFaultRule>;

export const DeliveryFaultRule = Type.Object({
  id: RuleId,
  target: Type.Literal('delivery'),
  account_id: Type.Optional(Type.String()),
  resource_type: Type.Optional(ResourceType),
  terminal: Type.Boolean(),
  message: Type.String(),
  count: Type.Optional(Count),
  fired: Fired,
  seen: Seen,
});
export type DeliveryFaultRule = Static<typeof DeliveryFaultRule>;

export const FaultRule = Type.Union([HttpFaultRule, DeliveryFaultRule]);
export type FaultRule = Static<typeof FaultRule>;

export const FaultParams = Type.Object({ id: Type.String({ maxLength: 32 }) });

export const ClearedObject = Type.Object({
  deleted: Type.Integer({ description: 'How many were removed.' }),
});
