import type { FastifyRequest } from 'fastify';
import type { AuditActor } from '../../platform/audit/entry.js';

/**
 * The audit actor of an authenticated API request. `statusCode` is what the route answers when the change
 * succeeds: the entry is written in the change's transaction, before the answer exists.
 */
export function requestActor(req: FastifyRequest, statusCode: number): AuditActor {
  const p = req.principal;
  const agent = req.headers['user-agent'];
  return {
    // An API token here belongs to no user: Cloudflare calls its actor the account.
    type: p.kind === 'user' ? 'user' : 'account',
    id: p.kind === 'user' ? p.id : null,
    email: p.email ?? null,
    ip: req.ip,
    context: p.kind === 'user' ? 'api_key' : 'api_token',
    tokenId: p.kind === 'token' ? p.id : null,
    tokenName: p.token?.name ?? null,
    interface: 'API',
    raw: {
      method: req.method,
      uri: req.originalUrl,
      statusCode,
      userAgent: typeof agent === 'string' ? agent : null,
      rayId: req.id,
    },
    request: req.body ?? null,
  };
}
