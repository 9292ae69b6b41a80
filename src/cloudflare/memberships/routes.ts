import { Collection } from '../../http/common-schemas.js';
import { okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import { ListMembershipsQuery, MembershipObject } from './schemas.js';
import type { MembershipsService } from './service.js';

/**
 * Cloudflare's `GET /memberships`: the caller's accounts with what it may do in each, so a client (the
 * web console) learns its rights by asking. Any valid credential may call it; it shows only its scope.
 */
export function membershipRoutes(app: App, memberships: MembershipsService): void {
  app.get('/memberships', {
    schema: {
      operationId: "user'-s-account-memberships-list-memberships",
      summary: 'List Memberships',
      tags: ['User Account Memberships'],
      querystring: ListMembershipsQuery,
      response: { 200: Collection(MembershipObject) },
    },
    config: { access: { scope: 'none', write: false } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await memberships.list(req.principal, req.query, page);
      return okPage(items, page, total);
    },
  });
}
