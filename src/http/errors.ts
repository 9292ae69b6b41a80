/**
 * One class per kind of failure, each with its Cloudflare code and HTTP status. Services throw these;
 * the single error handler turns them into the v4 envelope. Codes are documented in docs/api.md, "Errors".
 */
export interface ErrorSource {
  pointer: string;
}

/** A code and message without a pointer: an `error_chain` entry, or a further entry of `errors`. */
export interface ErrorDetail {
  code: number;
  message: string;
}

export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly code: number;
  readonly source: ErrorSource | undefined;
  /** Extra response headers, e.g. `x-should-retry`. */
  readonly headers: Record<string, string> = {};
  /** Cloudflare's `error_chain`: the specific causes under a general code (a header refusal). */
  readonly chain: ErrorDetail[] | undefined = undefined;
  /** Entries of `errors` after this one (a routing refusal carries two). */
  readonly followers: ErrorDetail[] = [];
  constructor(message: string, pointer?: string) {
    super(message);
    this.source = pointer === undefined ? undefined : { pointer };
  }
}

/** 400: a body field, query parameter or path parameter is invalid. */
export class ValidationError extends ApiError {
  readonly status = 400;
  readonly code = 1400;
}

/** 400: the body is not valid JSON. */
export class MalformedJsonError extends ApiError {
  readonly status = 400;
  readonly code = 6007;
  constructor() {
    super('Malformed JSON in request body');
  }
}

/** 400: no credentials at all. */
export class MissingCredentialsError extends ApiError {
  readonly status = 400;
  readonly code = 9106;
  constructor() {
    super('Missing X-Auth-Key, X-Auth-Email or Authorization headers');
  }
}

/** 403: unknown email / global key pair. */
export class UnknownKeyError extends ApiError {
  readonly status = 403;
  readonly code = 9103;
  constructor() {
    super('Unknown X-Auth-Key or X-Auth-Email');
  }
}

/**
 * Bearer token unknown, disabled or expired: 400 on the API's routes, 401 on `tokens/verify`, as
 * Cloudflare answers each.
 */
export class InvalidTokenError extends ApiError {
  readonly code = 1000;
  constructor(readonly status: 400 | 401 = 400) {
    super('Invalid API Token');
  }
}

/** The `error_chain` causes of a header refusal, in Cloudflare's words. */
export const HEADER_CAUSES = {
  authorization: { code: 6111, message: 'Invalid format for Authorization header' },
  email: { code: 6102, message: 'Invalid format for X-Auth-Email header' },
  key: { code: 6103, message: 'Invalid format for X-Auth-Key header' },
} as const satisfies Record<string, ErrorDetail>;

/** 400: a credential header no credential can match (checked before any lookup). */
export class InvalidHeadersError extends ApiError {
  readonly status = 400;
  readonly code = 6003;
  override readonly chain: ErrorDetail[];
  constructor(causes: ErrorDetail[]) {
    super('Invalid request headers');
    this.chain = causes;
  }
}

/**
 * 400: a path segment that must be an object id is not one. Cloudflare's router refuses it before
 * authentication, naming the path (without the query string), then adds its generic 7000.
 */
export class InvalidIdRouteError extends ApiError {
  readonly status = 400;
  readonly code = 7003;
  override readonly followers = [{ code: 7000, message: 'No route for that URI' }];
  constructor(path: string) {
    super(`Could not route to ${path}, perhaps your object identifier is invalid?`);
  }
}

/** 403: authenticated, but not allowed to do this. */
export class ForbiddenError extends ApiError {
  readonly status = 403;
  readonly code = 10000;
  constructor(message = 'Authentication error') {
    super(message);
  }
}

/** 404: unknown object, or one the caller may not see (the two are indistinguishable on purpose). */
export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly code = 1404;
}

/** 404: no route matches the method and path. */
export class NoRouteError extends ApiError {
  readonly status = 404;
  readonly code = 7003;
  constructor() {
    super('No route for the URI');
  }
}

/** 409: the request conflicts with the current state; retrying the same request cannot succeed. */
export class ConflictError extends ApiError {
  readonly status = 409;
  readonly code = 1409;
  override readonly headers = { 'x-should-retry': 'false' };
}

/**
 * 409 that is worth retrying: the object kept changing under the request (other writers committed between
 * each read and write), so nothing was written this time.
 */
export class ContendedError extends ApiError {
  readonly status = 409;
  readonly code = 1409;
  override readonly headers = { 'x-should-retry': 'true' };
}

/** 408: a wait ran out of time before what it waited for happened. */
export class RequestTimeoutError extends ApiError {
  readonly status = 408;
  readonly code = 1408;
}

/** 413: the body is larger than the server accepts. */
export class PayloadTooLargeError extends ApiError {
  readonly status = 413;
  readonly code = 1413;
  constructor(limit: number) {
    super(`Request body is larger than ${limit} bytes`);
  }
}

/** 414: the URL (request target) is longer than the server accepts. */
export class UriTooLongError extends ApiError {
  readonly status = 414;
  readonly code = 1414;
  constructor(limit: number) {
    super(`URL is longer than ${limit} bytes`);
  }
}

/** 417: an `Expect` header other than `100-continue`. */
export class ExpectationFailedError extends ApiError {
  readonly status = 417;
  readonly code = 1417;
  constructor() {
    super('Unsupported Expect header; only 100-continue is supported');
  }
}

/** 431: the request line and headers together are larger than the server accepts. */
export class HeadersTooLargeError extends ApiError {
  readonly status = 431;
  readonly code = 1431;
  constructor(limit: number) {
    super(`Request line and headers are larger than ${limit} bytes`);
  }
}

/** 415: a body that is not `application/json`. */
export class UnsupportedMediaTypeError extends ApiError {
  readonly status = 415;
  readonly code = 1415;
  constructor(contentType: string | undefined) {
    super(`Unsupported Content-Type ${contentType ?? '(none)'}; use application/json`);
  }
}

/** 500: a bug; details go to the log, never to the client. */
export class InternalError extends ApiError {
  readonly status = 500;
  readonly code = 1500;
  constructor() {
    super('Internal server error');
  }
}

/** 429: Cloudflare's rate limiter (code 971), as a fault rule injects it; `Retry-After` in whole seconds. */
export class RateLimitedError extends ApiError {
  readonly status = 429;
  readonly code = 971;
  override readonly headers: Record<string, string>;
  constructor(retryAfterSeconds: number) {
    super('Please wait and consider throttling your request speed');
    this.headers = { 'retry-after': String(retryAfterSeconds) };
  }
}

/** How long a client should wait before retrying after a store outage answer, in seconds. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * 503: the data store is down, restarting, too slow, or cannot take writes (a full or read-only disk).
 * Details go to the log; the client gets the server-error code SDKs retry, and when to retry.
 */
export class StoreUnavailableError extends ApiError {
  readonly status = 503;
  readonly code = 1503;
  override readonly headers = { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) };
  constructor() {
    super('The data store is unavailable; retry later');
  }
}

export type ServerFaultStatus = 500 | 502 | 503 | 504;

const SERVER_FAULTS: Record<ServerFaultStatus, { code: number; message: string }> = {
  500: { code: 1500, message: 'Internal server error' },
  502: { code: 1502, message: 'Bad gateway' },
  503: { code: 1503, message: 'Service temporarily unavailable' },
  504: { code: 1504, message: 'Gateway timeout' },
};

/** 500/502/503/504 as a fault rule injects them: the server-error code of each status. */
export class ServerFaultError extends ApiError {
  readonly status: ServerFaultStatus;
  readonly code: number;
  constructor(status: ServerFaultStatus) {
    super(SERVER_FAULTS[status].message);
    this.status = status;
    this.code = SERVER_FAULTS[status].code;
  }
}
