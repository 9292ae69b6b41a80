import { requestActor } from '../audit/request.js';
import { routeAccount } from '../../platform/tenancy/auth.js';
import { AccountParams, Collection, ShareParams, Single } from '../../http/common-schemas.js';
import { ok, okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import type { SharesService } from './service.js';
import {
  CreateShareBody,
  GetShareQuery,
  ListOrganizationSharesQuery,
  ListSharesQuery,
  OrganizationParams,
  ShareObject,
  UpdateShareBody,
} from './schemas.js';

const tags = ['Resource Sharing'];

export function shareRoutes(app: App, shares: SharesService): void {
  app.get('/accounts/:account_id/shares', {
    schema: {
      operationId: 'shares-list',
      summary: 'List account shares',
      tags,
      params: AccountParams,
      querystring: ListSharesQuery,
      response: { 200: Collection(ShareObject) },
    },
    config: { access: { scope: 'account', write: false } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await shares.list(req.params.account_id, req.query, page);
      return okPage(items, page, total);
    },
  });

  app.post('/accounts/:account_id/shares', {
    schema: {
      operationId: 'share-create',
      summary: 'Create a new share',
      tags,
      params: AccountParams,
      body: CreateShareBody,
      response: { 201: Single(ShareObject) },
    },
    config: { access: { scope: 'account', write: true } },
    handler: async (req, reply) => {
      const share = await shares.create(routeAccount(req), req.body, requestActor(req, 201));
      return reply.code(201).send(ok(share));
    },
  });

  app.get('/accounts/:account_id/shares/:share_id', {
    schema: {
      operationId: 'shares-get-by-id',
      summary: 'Get account share by ID',
      tags,
      params: ShareParams,
      querystring: GetShareQuery,
      response: { 200: Single(ShareObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) => ok(await shares.get(req.params.account_id, req.params.share_id, req.query)),
  });

  app.put('/accounts/:account_id/shares/:share_id', {
    schema: {
      operationId: 'share-update',
      summary: 'Update a share',
      tags,
      params: ShareParams,
      body: UpdateShareBody,
      response: { 200: Single(ShareObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req) =>
      ok(await shares.update(req.params.account_id, req.params.share_id, req.body, requestActor(req, 200))),
  });

  app.delete('/accounts/:account_id/shares/:share_id', {
    schema: {
      operationId: 'share-delete',
      summary: 'Delete a share',
      tags,
      params: ShareParams,
      response: { 200: Single(ShareObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req) =>
      ok(await shares.delete(req.params.account_id, req.params.share_id, requestActor(req, 200))),
  });

  app.get('/organizations/:organization_id/shares', {
    schema: {
      operationId: 'organization-shares-list',
      summary: 'List organization shares',
      tags,
      params: OrganizationParams,
      querystring: ListOrganizationSharesQuery,
      response: { 200: Collection(ShareObject) },
    },
    config: { access: { scope: 'organization', write: false } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await shares.listForOrganization(req.params.organization_id, req.query, page);
      return okPage(items, page, total);
    },
  });
}
