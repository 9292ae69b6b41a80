import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { Single } from '../../http/common-schemas.js';
import { ok } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import { ClearedObject } from '../faults/schemas.js';
import { JournalEntry, JournalQuery } from './schemas.js';
import type { Journal } from './service.js';

const tags = ['rshare admin'];

/** `ok(result)` as JSON, split where the result goes. */
const RESULT = 'journal entries';
const [ENVELOPE_HEAD, ENVELOPE_TAIL] = JSON.stringify(ok(RESULT))
  .split(JSON.stringify(RESULT))
  .map((part) => Buffer.from(part)) as [Buffer, Buffer];

/** Sends JSON already serialised (the route's schema still documents its shape). */
function sendJson(reply: FastifyReply, json: Buffer): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

/** The request journal (paths relative to the admin prefix, `/_rshare`). */
export function journalRoutes(app: App, journal: Journal): void {
  app.get('/requests', {
    schema: {
      operationId: 'rshare-requests-list',
      summary: 'List journaled requests, newest first',
      tags,
      querystring: JournalQuery,
      response: { 200: Single(Type.Array(JournalEntry)) },
    },
    // The entries are kept as JSON: the envelope is put around them as they are, not serialised again.
    handler: async (req, reply) =>
      sendJson(reply, Buffer.concat([ENVELOPE_HEAD, journal.listJson(req.query), ENVELOPE_TAIL])),
  });

  app.delete('/requests', {
    schema: {
      operationId: 'rshare-requests-delete',
      summary: 'Empty the request journal',
      tags,
      response: { 200: Single(ClearedObject) },
    },
    handler: async () => ok({ deleted: journal.clear() }),
  });
}
