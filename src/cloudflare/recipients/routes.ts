import { requestActor } from '../audit/request.js';
import { Collection, NoContent, ShareParams, Single } from '../../http/common-schemas.js';
import { ok, okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import type { RecipientsService } from './service.js';
import {
  GetRecipientQuery,
  ListRecipientsQuery,
  RecipientObject,
  RecipientParams,
  RecipientRequest,
  ReplaceRecipientsBody,
} from './schemas.js';

const tags = ['Resource Sharing'];
const base = '/accounts/:account_id/shares/:share_id/recipients';

export function recipientRoutes(app: App, recipients: RecipientsService): void {
  app.get(base, {
    schema: {
      operationId: 'share-recipients-list',
      summary: 'List share recipients by share ID',
      tags,
      params: ShareParams,
      querystring: ListRecipientsQuery,
      response: { 200: Collection(RecipientObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await recipients.list(
        req.params.account_id,
        req.params.share_id,
        req.query.include_resources === true,
        page,
      );
      return okPage(items, page, total);
    },
  });

  app.post(base, {
    schema: {
      operationId: 'share-recipient-create',
      summary: 'Create a new share recipient',
      tags,
      params: ShareParams,
      body: RecipientRequest,
      response: { 201: Single(RecipientObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req, reply) => {
      const created = await recipients.create(
        req.params.account_id,
        req.params.share_id,
        req.body,
        requestActor(req, 201),
      );
      return reply.code(201).send(ok(created));
    },
  });

  app.put(base, {
    schema: {
      operationId: 'share-recipients-update',
      summary: "Update a share's recipients",
      tags,
      params: ShareParams,
      body: ReplaceRecipientsBody,
      response: { 204: NoContent },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req, reply) => {
      await recipients.replace(req.params.account_id, req.params.share_id, req.body, requestActor(req, 204));
      return reply.code(204).send(null);
    },
  });

  app.get(`${base}/:recipient_id`, {
    schema: {
      operationId: 'share-recipients-get-by-id',
      summary: 'Get share recipient by ID',
      tags,
      params: RecipientParams,
      querystring: GetRecipientQuery,
      response: { 200: Single(RecipientObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) =>
      ok(
        await recipients.get(
          req.params.account_id,
          req.params.share_id,
          req.params.recipient_id,
          req.query.include_resources === true,
        ),
      ),
  });

  app.delete(`${base}/:recipient_id`, {
    schema: {
      operationId: 'share-recipient-delete',
      summary: 'Delete a share recipient',
      tags,
      params: RecipientParams,
      response: { 200: Single(RecipientObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req) =>
      ok(
        await recipients.delete(
          req.params.account_id,
          req.params.share_id,
          req.params.recipient_id,
          requestActor(req, 200),
        ),
      ),
  });
}
