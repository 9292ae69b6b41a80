import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { clientErrorHandler, onConnect } from './client-error.js';
import {
  ExpectationFailedError,
  PayloadTooLargeError,
  UriTooLongError,
  ValidationError,
  type ApiError,
} from './errors.js';
import { serverOptions, type HttpLimits } from './limits.js';
import type { App } from './types.js';

/** Fastify options for the HTTP server: Node's construction-time limits and the raw-socket answers. */
export function serverLimitOptions(limits: HttpLimits, log: FastifyBaseLogger | undefined) {
  return {
    http: serverOptions(limits),
    clientErrorHandler: clientErrorHandler(limits, log),
    // Fastify's shutdown answer is a bare 503 body; requests caught by a shutdown are served instead,
    // with `connection: close` (Fastify adds it), and the store closes only after they are answered.
    return503OnClosing: false,
  };
}

/** The first check a parsed request meets: what Cloudflare's edge refuses before the API sees it. */
function refusal(
  req: FastifyRequest,
  limits: HttpLimits,
  unmet: WeakSet<IncomingMessage>,
): ApiError | undefined {
  if (req.originalUrl.length > limits.urlLimit) return new UriTooLongError(limits.urlLimit);
  if (req.raw.httpVersion === '1.1' && req.headers.host === undefined)
    return new ValidationError('Missing Host header (required in HTTP/1.1)');
  if (unmet.has(req.raw)) return new ExpectationFailedError();
  // Bodies a route never reads (GET) count too; refused before the body is waited for.
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > req.routeOptions.bodyLimit) return new PayloadTooLargeError(req.routeOptions.bodyLimit);
  return undefined;
}

/**
 * Sets the server timeouts and registers the checks on parsed requests. Call right after creating the
 * app, before any other hook, so a refusal comes before fault rules, authentication and body reading.
 */
export function installServerLimits(app: App, limits: HttpLimits): void {
  const server = app.server;
  server.headersTimeout = limits.timeouts.headersMs;
  server.requestTimeout = limits.timeouts.requestMs;
  server.keepAliveTimeout = limits.timeouts.keepAliveMs;

  // Without these listeners Node answers an unknown Expect with a bare 417 and drops CONNECT silently.
  const unmet = new WeakSet<IncomingMessage>();
  server.on('checkExpectation', (req: IncomingMessage, res) => {
    unmet.add(req);
    server.emit('request', req, res);
  });
  server.on('connect', onConnect);

  app.addHook('onRequest', async (req) => {
    const error = refusal(req, limits, unmet);
    if (error) throw error;
  });
  // Answered before its body was all in (refused, unknown route, body over the limit): the connection
  // ends with the answer, instead of reading the rest only to discard it, or waiting for a body that
  // may never come until the request timeout.
  app.addHook('onSend', async (req, reply) => {
    if (!req.raw.complete) void reply.header('connection', 'close');
  });
}
