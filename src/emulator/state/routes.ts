import { Type } from '@sinclair/typebox';
import { Single } from '../../http/common-schemas.js';
import { ok } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import { MAX_BODY_DEPTH } from '../../http/validation.js';
import { StateDocument } from './schemas.js';
import type { StateService } from './service.js';

const tags = ['rshare admin'];

/** A whole store fits in a PUT: far above the API's 1 MiB. */
export const STATE_BODY_LIMIT = 64 * 1024 * 1024;

/** `GET/PUT /state`, registered by the admin plugin under `/_rshare` (which checks the admin token). */
export function stateRoutes(app: App, state: StateService): void {
  app.get('/state', {
    schema: {
      operationId: 'rshare-state-get',
      summary: 'The whole store as one state document',
      tags,
      response: { 200: Single(StateDocument) },
    },
    handler: async () => ok(await state.exportState()),
  });

  app.put('/state', {
    schema: {
      operationId: 'rshare-state-put',
      summary: 'Replace the whole store with a state document (format 1 or 2)',
      tags,
      // Checked by the service (any accepted format version, then references), so its errors name the field.
      body: Type.Unknown({ description: 'A state document, as GET /_rshare/state returns it.' }),
      response: { 200: Single(StateDocument) },
    },
    bodyLimit: STATE_BODY_LIMIT,
    // A document holds a resource's meta two levels deeper (`/resources/0/meta`) than a resource create does.
    config: { bodyDepth: MAX_BODY_DEPTH + 2 },
    handler: async (req) => {
      await state.importState(req.body);
      return ok(await state.exportState());
    },
  });
}
