import { ok } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import {
  AuditLogsV1Page,
  AuditLogsV2Page,
  AuditParams,
  ListAuditLogsV1Query,
  ListAuditLogsV2Query,
} from './schemas.js';
import type { AuditService } from './service.js';

const tags = ['Audit Logs'];

export function auditRoutes(app: App, audit: AuditService): void {
  app.get('/accounts/:account_id/audit_logs', {
    schema: {
      operationId: 'audit-logs-get-account-audit-logs',
      summary: 'Get account audit logs (version 1)',
      tags,
      params: AuditParams,
      querystring: ListAuditLogsV1Query,
      response: { 200: AuditLogsV1Page },
    },
    config: { access: { scope: 'account', write: false } },
    handler: async (req) => {
      const { items, page, perPage } = await audit.listV1(req.params.account_id, req.query);
      return { ...ok(items), result_info: { page, per_page: perPage, count: items.length } };
    },
  });

  app.get('/accounts/:account_id/logs/audit', {
    schema: {
      operationId: 'audit-logs-v2-get-account-audit-logs',
      summary: 'Get account audit logs (version 2)',
      tags,
      params: AuditParams,
      querystring: ListAuditLogsV2Query,
      response: { 200: AuditLogsV2Page },
    },
    config: { access: { scope: 'account', write: false } },
    handler: async (req) => {
      const { items, cursor } = await audit.listV2(req.params.account_id, req.query as ListAuditLogsV2Query);
      return {
        ...ok(items),
        result_info: cursor
          ? { count: items.length, cursor, cursors: { after: cursor } }
          : { count: items.length },
      };
    },
  });
}
