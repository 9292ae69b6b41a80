import type { ConnectionError, FastifyBaseLogger } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { envelope } from './error-handler.js';
import {
  HeadersTooLargeError,
  NoRouteError,
  RequestTimeoutError,
  ValidationError,
  type ApiError,
} from './errors.js';
import type { HttpLimits } from './limits.js';

/** What llhttp refused, in words (its own reasons vary between Node versions). */
const PARSE_ERRORS: Record<string, string> = {
  HPE_INVALID_METHOD: 'Malformed request line: unknown method',
  HPE_INVALID_URL: 'Malformed request line: invalid character in the URL',
  HPE_INVALID_CONSTANT: 'Malformed request line: expected HTTP/1.1',
  HPE_INVALID_VERSION: 'Malformed request line: invalid HTTP version',
  HPE_PAUSED_H2_UPGRADE: 'HTTP/2 without TLS is not supported; use HTTP/1.1',
  HPE_INVALID_HEADER_TOKEN: 'Malformed header: invalid character in a header name or value',
  HPE_INVALID_CONTENT_LENGTH: 'Invalid Content-Length header',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Invalid Content-Length header',
  HPE_INVALID_TRANSFER_ENCODING: 'Invalid Transfer-Encoding header: only chunked, never with Content-Length',
  HPE_INVALID_CHUNK_SIZE: 'Malformed chunked body',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'Malformed chunked body: chunk extensions too large',
  HPE_INVALID_EOF_STATE: 'Connection closed before the request was complete',
};

/** The response Node's HTTP server is writing on this socket, if any (Node's own check reads it too). */
function inFlight(socket: Socket): ServerResponse | null | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
}

/** The answer to a failure below HTTP routing; undefined when there is no one to answer. */
function clientFailure(err: ConnectionError, socket: Socket, limits: HttpLimits): ApiError | undefined {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A connection that never sent a byte (a browser's preconnect) is closed without an answer.
    if (socket.bytesRead === 0) return undefined;
    const { headersMs, requestMs } = limits.timeouts;
    // A response object exists once the headers are in: it was the body that was late.
    return inFlight(socket) || headersMs === 0
      ? new RequestTimeoutError(`Request not received in full within ${requestMs} ms`)
      : new RequestTimeoutError(`Request headers not received within ${headersMs} ms`);
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLargeError(limits.headerLimit);
  if (err.code.startsWith('HPE_'))
    return new ValidationError(PARSE_ERRORS[err.code] ?? 'Malformed HTTP request');
  return undefined;
}

/** A complete HTTP/1.1 response in the envelope, written straight to a socket; the connection ends. */
function rawResponse(error: ApiError, requestId: string): string {
  const body = JSON.stringify(envelope(error));
  const headers: Record<string, string> = {
    ...error.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    date: new Date().toUTCString(),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${lines.join('')}\r\n${body}`;
}

/** Answers `error` on `socket` if it can be answered, then closes it. */
function answer(socket: Socket, error: ApiError | undefined, requestId: string): void {
  // As Node does: never after a response has begun on this connection (it would corrupt that one).
  if (error && socket.writable && inFlight(socket)?.headersSent !== true)
    socket.write(rawResponse(error, requestId));
  socket.destroy();
}

/**
 * Fastify's `clientErrorHandler`: what Node's parser or its timeouts refuse (malformed request lines and
 * headers, oversized headers, bad framing, slow clients) is answered in the envelope, not Node's or
 * Fastify's bare bodies. The raw packet is never logged: it may hold credentials.
 */
export function clientErrorHandler(limits: HttpLimits, log: FastifyBaseLogger | undefined) {
  return (err: ConnectionError, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const error = clientFailure(err, socket, limits);
    const reqId = randomUUID();
    log?.debug({ reqId, code: err.code, statusCode: error?.status }, 'client error');
    answer(socket, error, reqId);
  };
}

/** Node hands a CONNECT request's socket over raw (and, without a listener, just closes it). */
export function onConnect(_req: IncomingMessage, socket: Socket): void {
  socket.on('error', () => {});
  answer(socket, new NoRouteError(), randomUUID());
}
