import { Type } from '@sinclair/typebox';
import type { FastifySchema } from 'fastify';

const tags = ['rshare operations'];
const Status = <T extends string>(status: T, description: string) =>
  Type.Object({ status: Type.Literal(status) }, { description });

/**
 * The document's description of the routes app.ts declares without a schema (their handlers answer
 * fixed bodies, so no validation or serializer schema is needed at run time), by path.
 */
export const INFRASTRUCTURE_SCHEMAS: Record<string, FastifySchema> = {
  '/healthz': {
    operationId: 'rshare-healthz',
    summary: 'Liveness: the process answers',
    tags,
    response: { 200: Status('ok', 'The process is up.') },
  },
  '/readyz': {
    operationId: 'rshare-readyz',
    summary: 'Readiness: the store answers',
    tags,
    response: {
      200: Status('ready', 'The store answers.'),
      503: Status('unavailable', 'The store does not answer.'),
    },
  },
  '/metrics': {
    operationId: 'rshare-metrics',
    summary: 'Prometheus metrics (HTTP requests, reconciler)',
    tags,
    response: {
      200: {
        description: 'Prometheus text exposition format.',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
    },
  },
};
