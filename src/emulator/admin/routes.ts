import { Single } from '../../http/common-schemas.js';
import { ok } from '../../http/envelope.js';
import { ValidationError } from '../../http/errors.js';
import { pointerSegment } from '../../http/validation.js';
import type { App } from '../../http/types.js';
import { controlRoutes } from '../control/routes.js';
import type { ControlService } from '../control/service.js';
import { faultRoutes } from '../faults/routes.js';
import type { FaultRegistry } from '../faults/service.js';
import { journalRoutes } from '../journal/routes.js';
import type { Journal } from '../journal/service.js';
import { stateRoutes } from '../state/routes.js';
import type { StateService } from '../state/service.js';
import { ResetBody, ResetResult } from './schemas.js';
import type { AdminService } from './service.js';

export interface AdminServices {
  admin: AdminService;
  state: StateService;
  control: ControlService;
  faults: FaultRegistry;
  journal: Journal;
}

const tags = ['rshare admin'];
const RESET_FIELDS = new Set(['organization_id']);

/** Every admin route, relative to `/_rshare` (the mount adds the prefix and the token check). */
export function adminRoutes(app: App, services: AdminServices): void {
  app.post('/reset', {
    schema: {
      operationId: 'rshare-reset',
      summary: 'Empty the store (or one organization’s shares) and the in-process controls',
      tags,
      body: ResetBody,
      response: { 200: Single(ResetResult) },
    },
    // A misspelt field must not turn an organization reset into a whole-store one (validation would
    // silently drop it), so unknown fields are refused before validation.
    preValidation: async (req) => {
      const body: unknown = req.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
      const unknown = Object.keys(body).find((k) => !RESET_FIELDS.has(k));
      if (unknown !== undefined)
        throw new ValidationError(`Unknown field ${unknown}`, `/${pointerSegment(unknown)}`);
    },
    handler: async (req) => ok(await services.admin.reset(req.body ?? undefined)),
  });
  stateRoutes(app, services.state);
  controlRoutes(app, services.control);
  faultRoutes(app, services.faults);
  journalRoutes(app, services.journal);
}
