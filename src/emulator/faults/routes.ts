import { Type } from '@sinclair/typebox';
import { Single } from '../../http/common-schemas.js';
import { ok } from '../../http/envelope.js';
import { NotFoundError } from '../../http/errors.js';
import type { App } from '../../http/types.js';
import { ClearedObject, FaultParams, FaultRule, FaultRuleBody } from './schemas.js';
import type { FaultRegistry } from './service.js';

const tags = ['rshare admin'];

/** Fault rules (paths relative to the admin prefix, `/_rshare`). */
export function faultRoutes(app: App, faults: FaultRegistry): void {
  app.post('/faults', {
    schema: {
      operationId: 'rshare-fault-create',
      summary: 'Add a fault rule',
      tags,
      body: FaultRuleBody,
      response: { 201: Single(FaultRule) },
    },
    handler: async (req, reply) => reply.code(201).send(ok(faults.add(req.body))),
  });

  app.get('/faults', {
    schema: {
      operationId: 'rshare-faults-list',
      summary: 'List fault rules with how many times each fired',
      tags,
      response: { 200: Single(Type.Array(FaultRule)) },
    },
    handler: async () => ok(faults.list()),
  });

  app.delete('/faults/:id', {
    schema: {
      operationId: 'rshare-fault-delete',
      summary: 'Remove a fault rule',
      tags,
      params: FaultParams,
      response: { 200: Single(Type.Object({ id: Type.String() })) },
    },
    handler: async (req) => {
      if (!faults.remove(req.params.id)) throw new NotFoundError('Fault rule not found');
      return ok({ id: req.params.id });
    },
  });

  app.delete('/faults', {
    schema: {
      operationId: 'rshare-faults-delete',
      summary: 'Remove every fault rule',
      tags,
      response: { 200: Single(ClearedObject) },
    },
    handler: async () => ok({ deleted: faults.clear() }),
  });
}
