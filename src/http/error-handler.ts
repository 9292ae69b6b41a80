import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { isStoreUnavailable } from '../lib/outage.js';
import { requestPath } from './paths.js';
import { ID_PATTERN } from '../lib/ids.js';
import { DIGEST_PATTERN, TIMESTAMP_PATTERN, type ErrorItem, type Failure } from './common-schemas.js';
import {
  ApiError,
  InternalError,
  MalformedJsonError,
  PayloadTooLargeError,
  StoreUnavailableError,
  UnsupportedMediaTypeError,
  InvalidIdRouteError,
  UriTooLongError,
  ValidationError,
} from './errors.js';

/** Messages for the patterns our schemas use, so a client reads a sentence rather than a regex. */
const PATTERN_MESSAGES: Record<string, string> = {
  '\\S': 'must not be blank',
  '^[^=]+$': 'must not contain "="',
  [ID_PATTERN]: 'must be 32 lowercase hex characters',
  [DIGEST_PATTERN]: 'must be 64 lowercase hex characters (a SHA-256 digest)',
  [TIMESTAMP_PATTERN]: 'must be a UTC timestamp with microseconds, like 2023-09-21T18:56:32.624632Z',
};

type SchemaContext = 'body' | 'querystring' | 'params' | 'headers';
const CONTEXT_PREFIX: Record<SchemaContext, string> = {
  body: '',
  querystring: '/query',
  params: '/path',
  headers: '/headers',
};

function describe(field: string, e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${p.missingProperty as string} is required`;
    case 'type':
      return `${field} must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${String(p.type)}`;
    case 'enum':
      return `${field} must be one of: ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'minLength':
      return p.limit === 1
        ? `${field} must not be empty`
        : `${field} must be at least ${p.limit as number} characters`;
    case 'maxLength':
      return `${field} must be at most ${p.limit as number} characters`;
    case 'minimum':
      return `${field} must be at least ${p.limit as number}`;
    case 'maximum':
      return `${field} must be at most ${p.limit as number}`;
    case 'maxItems':
      return `${field} must have at most ${p.limit as number} items`;
    case 'minItems':
      return `${field} must have at least ${p.limit as number} items`;
    case 'maxProperties':
      return `${field} must have at most ${p.limit as number} entries`;
    case 'pattern':
      return `${field} ${PATTERN_MESSAGES[p.pattern as string] ?? `must match ${p.pattern as string}`}`;
    case 'multipleOf':
      return `${field} must be an integer`;
    default:
      return `${field} ${e.message ?? 'is invalid'}`;
  }
}

/** Turns the first schema violation into a ValidationError whose pointer names the field. */
export function validationError(errors: ErrorObject[], context: SchemaContext): ValidationError {
  const e = errors[0];
  if (!e) return new ValidationError('Invalid request', CONTEXT_PREFIX[context]);
  let path = e.instancePath;
  if (e.keyword === 'required')
    path += `/${String((e.params as { missingProperty: string }).missingProperty)}`;
  const segments = path.split('/').filter(Boolean);
  const field = segments.at(-1) ?? (context === 'body' ? 'body' : context);
  const named = /^\d+$/.test(field) ? `${segments.at(-2) ?? 'body'}[${field}]` : field;
  return new ValidationError(describe(named, e), CONTEXT_PREFIX[context] + path);
}

export function envelope(error: ApiError): Failure {
  const first: ErrorItem = { code: error.code, message: error.message };
  if (error.source) first.source = error.source;
  if (error.chain) first.error_chain = error.chain;
  return { success: false, errors: [first, ...error.followers], messages: [], result: null };
}

/** Maps framework errors onto our error kinds. */
function toApiError(err: FastifyError & { validationContext?: SchemaContext }): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err.validation)
    return validationError(err.validation as ErrorObject[], err.validationContext ?? 'body');
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(undefined);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return undefined;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ValidationError('Request body is required', '');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new MalformedJsonError();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ValidationError('Request body size did not match Content-Length');
  }
  if (err instanceof SyntaxError && err.statusCode === 400) return new MalformedJsonError();
  if (isStoreUnavailable(err)) return new StoreUnavailableError();
  return undefined;
}

export function errorHandler(bodyLimit: number) {
  return function handle(err: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply) {
    if (err instanceof ApiError) return send(err, reply);
    let api = toApiError(err);
    // A route may raise the server's limit (PUT /_rshare/state does): name the one that applied.
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      api = new PayloadTooLargeError(req.routeOptions?.bodyLimit ?? bodyLimit);
    if (api instanceof UnsupportedMediaTypeError)
      api = new UnsupportedMediaTypeError(req.headers['content-type']);
    // The client went away mid-body (or a request timeout cut it off, answered on the socket): no one
    // reads this answer, and it is not a server error.
    if (err.code === 'ECONNRESET' && req.raw.destroyed)
      api = new ValidationError('Connection closed before the request was complete');
    if (!api) {
      req.log.error({ err }, 'unhandled error');
      api = new InternalError();
    } else if (api instanceof StoreUnavailableError) {
      req.log.warn({ err }, 'store unavailable');
    } else if (api.status >= 500) {
      req.log.error({ err }, 'server error');
    }
    send(api, reply);
  };
}

function send(api: ApiError, reply: FastifyReply): void {
  void reply
    // Set here too: a request refused by the first onRequest hook never reaches the one that sets it.
    .header('x-request-id', reply.request.id)
    .code(api.status)
    .headers(api.headers)
    .type('application/json; charset=utf-8')
    .send(envelope(api));
}

/**
 * Fastify's `frameworkErrors`: failures raised before routing (a malformed percent-encoding, a path
 * segment over the router's length limit), answered in the same envelope, with the request id. A URL
 * over the limit is a 414 whatever else is wrong with it, as it is once routed.
 */
export function frameworkErrorHandler(bodyLimit: number, urlLimit: number, apiRoot: string) {
  const handle = errorHandler(bodyLimit);
  return function onFrameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
    if (req.originalUrl.length > urlLimit) return handle(new UriTooLongError(urlLimit), req, reply);
    switch (err.code) {
      case 'FST_ERR_BAD_URL':
        return handle(new ValidationError('The URL is not valid (malformed percent-encoding)'), req, reply);
      case 'FST_ERR_MAX_PARAM_LENGTH':
        // Every parameter of Cloudflare's API is an id, so its router cannot route this either.
        if (req.originalUrl.startsWith(`${apiRoot}/`))
          return handle(new InvalidIdRouteError(requestPath(req.originalUrl)), req, reply);
        return handle(new ValidationError('A path parameter is too long'), req, reply);
      default:
        return handle(err, req, reply);
    }
  };
}
