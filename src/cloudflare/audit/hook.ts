import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../lib/clock.js';
import { auditEntry } from '../../platform/audit/entry.js';
import { requestActor } from './request.js';
import type { AuditService } from './service.js';

/** The resource a read route names, by the last literal segment of its pattern. */
const READ_TYPES: Record<string, string> = {
  shares: 'share',
  recipients: 'share_recipient',
  resources: 'share_resource',
  'excluded-recipients': 'share_excluded_recipient',
  audit_logs: 'audit_log',
  audit: 'audit_log',
};

function readTarget(req: FastifyRequest): { type: string; id: string } | undefined {
  const params = req.params as Record<string, string>;
  const segments = req.routeOptions.url?.split('/').filter(Boolean) ?? [];
  const last = segments.at(-1);
  if (!last) return undefined;
  if (last.startsWith(':')) {
    const literal = segments.at(-2) ?? '';
    const id = params[last.slice(1)];
    return READ_TYPES[literal] && id ? { type: READ_TYPES[literal], id } : undefined;
  }
  // A list: the object read is the collection of the account or share that holds it.
  const type = READ_TYPES[last];
  const owner = params.share_id ?? params.account_id;
  return type && owner ? { type, id: owner } : undefined;
}

/**
 * `--audit-reads`: each successful read of an account's objects becomes a `view` entry in its log, as
 * Cloudflare logs reads. Written after the answer is sent, so a read waits for no extra write.
 */
export function auditReadHooks(app: FastifyInstance, audit: AuditService, clock: Clock): void {
  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'GET' || reply.statusCode >= 300) return;
    const access = req.routeOptions.config.access;
    // Organization-scoped reads name no account whose log could hold them.
    if (access?.scope !== 'account' || !req.principal) return;
    const target = readTarget(req);
    const accountId = (req.params as { account_id?: string }).account_id;
    if (!target || !accountId) return;
    try {
      const actor = requestActor(req, reply.statusCode);
      await audit.record([
        auditEntry({ ...actor, request: null }, clock.timestamp(), {
          account: { id: accountId, organization_id: null },
          action: 'view',
          description: `View ${target.type.replaceAll('_', ' ')}`,
          resource: target,
        }),
      ]);
    } catch (err) {
      req.log.error({ err }, 'audit entry of a read not written');
    }
  });
}
