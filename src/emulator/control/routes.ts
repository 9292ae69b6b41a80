import { ok } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import {
  ClockBody,
  ClockResponse,
  ReconcileBody,
  ReconcileResponse,
  WaitBody,
  WaitResponse,
} from './schemas.js';
import type { ControlService } from './service.js';

const tags = ['rshare admin'];

/** The test-suite controls, at paths relative to where they are mounted (the admin API's `/_rshare`). */
export function controlRoutes(app: App, control: ControlService): void {
  app.post('/reconcile', {
    schema: {
      operationId: 'rshare-reconcile',
      summary: 'Run the reconciler now (ignoring delays) until no work is left to claim',
      tags,
      body: ReconcileBody,
      response: { 200: ReconcileResponse },
    },
    handler: async (req) => ok(await control.reconcile(req.body)),
  });

  app.post('/wait', {
    schema: {
      operationId: 'rshare-wait',
      summary: 'Answer once every recipient and resource of a share has settled',
      tags,
      body: WaitBody,
      response: { 200: WaitResponse },
    },
    handler: async (req) => ok(await control.wait(req.body)),
  });

  app.get('/clock', {
    schema: {
      operationId: 'rshare-clock-get',
      summary: "The server clock's time and state",
      tags,
      response: { 200: ClockResponse },
    },
    handler: async () => ok(control.clockState()),
  });

  app.post('/clock', {
    schema: {
      operationId: 'rshare-clock-set',
      summary: 'Freeze, resume, advance or set the server clock',
      tags,
      body: ClockBody,
      response: { 200: ClockResponse },
    },
    handler: async (req) => ok(control.setClock(req.body)),
  });
}
