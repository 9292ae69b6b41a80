import { requestActor } from '../audit/request.js';
import { Collection, NoContent, ShareParams, Single } from '../../http/common-schemas.js';
import { ok, okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import type { ExcludedRecipientsService } from './service.js';
import {
  ExcludedRecipientObject,
  ExcludedRecipientParams,
  ExcludedRecipientRequest,
  ListExcludedRecipientsQuery,
  ReplaceExcludedRecipientsBody,
} from './schemas.js';

const tags = ['Resource Sharing'];
const base = '/accounts/:account_id/shares/:share_id/excluded-recipients';

export function excludedRecipientRoutes(app: App, excludedRecipients: ExcludedRecipientsService): void {
  app.get(base, {
    schema: {
      operationId: 'share-excluded-recipients-list',
      summary: 'List share excluded recipients by share ID',
      tags,
      params: ShareParams,
      querystring: ListExcludedRecipientsQuery,
      response: { 200: Collection(ExcludedRecipientObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await excludedRecipients.list(
        req.params.account_id,
        req.params.share_id,
        page,
      );
      return okPage(items, page, total);
    },
  });

  app.post(base, {
    schema: {
      operationId: 'share-excluded-recipient-create',
      summary: 'Create a new share excluded recipient',
      tags,
      params: ShareParams,
      body: ExcludedRecipientRequest,
      response: { 201: Single(ExcludedRecipientObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req, reply) => {
      const created = await excludedRecipients.create(
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
      operationId: 'share-excluded-recipients-update',
      summary: "Update a share's excluded recipients",
      tags,
      params: ShareParams,
      body: ReplaceExcludedRecipientsBody,
      response: { 204: NoContent },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req, reply) => {
      await excludedRecipients.replace(
        req.params.account_id,
        req.params.share_id,
        req.body,
        requestActor(req, 204),
      );
      return reply.code(204).send(null);
    },
  });

  app.get(`${base}/:excluded_recipient_id`, {
    schema: {
      operationId: 'share-excluded-recipients-get-by-id',
      summary: 'Get share excluded recipient by ID',
      tags,
      params: ExcludedRecipientParams,
      response: { 200: Single(ExcludedRecipientObject) },
    },
    config: { access: { scope: 'account', write: false, object: true } },
    handler: async (req) =>
      ok(
        await excludedRecipients.get(
          req.params.account_id,
          req.params.share_id,
          req.params.excluded_recipient_id,
        ),
      ),
  });

  app.delete(`${base}/:excluded_recipient_id`, {
    schema: {
      operationId: 'share-excluded-recipient-delete',
      summary: 'Delete a share excluded recipient',
      tags,
      params: ExcludedRecipientParams,
      response: { 200: Single(ExcludedRecipientObject) },
    },
    config: { access: { scope: 'account', write: true, object: true } },
    handler: async (req) =>
      ok(
        await excludedRecipients.delete(
          req.params.account_id,
          req.params.share_id,
          req.params.excluded_recipient_id,
          requestActor(req, 200),
        ),
      ),
  });
}
