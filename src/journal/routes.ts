import { Type } from '@sinclair/typebox';
import { Single } from '../http/common-schemas.js';
import { ok } from '../http/envelope.js';
import type { App } from '../http/types.js';
import { ClearedObject } from '../faults/schemas.js';
import { JournalEntry, JournalQuery } from './schemas.js';
import type { Journal } from './service.js';

const tags = ['rshare admin'];

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
    handler: async (req) => ok(journal.list(req.query)),
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
