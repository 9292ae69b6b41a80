import { requestActor } from '../audit/request.js';
import { Collection, ShareParams, Single } from '../../http/common-schemas.js';
import { ok, okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import type { ResourcesService } from './service.js';
import {
  CreateResourceBody,
  ListResourcesQuery,
  ResourceObject,
  ResourceParams,
  UpdateResourceBody,
} from './schemas.js';

const tags = ['Resource Sharing'];
const base = '/accounts/:account_id/shares/:share_id/resources';

export function resourceRoutes(app: App, resources: ResourcesService): void {
  app.get(base, {
    schema: {
      operationId: 'share-resources-list',
      summary: 'List share resources by share ID',
      tags,
      params: ShareParams,
      querystring: ListResourcesQuery,
      response: { 200: Collection(ResourceObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await resources.list(
        req.params.account_id,
        req.params.share_id,
        req.query,
        page,
      );
      return okPage(items, page, total);
    },
  });

  app.post(base, {
    schema: {
      operationId: 'share-resource-create',
      summary: 'Create a new share resource',
      tags,
      params: ShareParams,
      body: CreateResourceBody,
      response: { 201: Single(ResourceObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req, reply) => {
      const created = await resources.create(
        req.params.account_id,
        req.params.share_id,
        req.body,
        requestActor(req, 201),
      );
      return reply.code(201).send(ok(created));
    },
  });

  app.get(`${base}/:share_resource_id`, {
    schema: {
      operationId: 'share-resources-get-by-id',
      summary: 'Get share resource by ID',
      tags,
      params: ResourceParams,
      response: { 200: Single(ResourceObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) =>
      ok(await resources.get(req.params.account_id, req.params.share_id, req.params.share_resource_id)),
  });

  app.put(`${base}/:share_resource_id`, {
    schema: {
      operationId: 'share-resource-update',
      summary: 'Update a share resource',
      tags,
      params: ResourceParams,
      body: UpdateResourceBody,
      response: { 200: Single(ResourceObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req) =>
      ok(
        await resources.update(
          req.params.account_id,
          req.params.share_id,
          req.params.share_resource_id,
          req.body,
          requestActor(req, 200),
        ),
      ),
  });

  app.delete(`${base}/:share_resource_id`, {
    schema: {
      operationId: 'share-resource-delete',
      summary: 'Delete a share resource',
      tags,
      params: ResourceParams,
      response: { 200: Single(ResourceObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req) =>
      ok(
        await resources.delete(
          req.params.account_id,
          req.params.share_id,
          req.params.share_resource_id,
          requestActor(req, 200),
        ),
      ),
  });
}
