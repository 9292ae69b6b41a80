import type { FastifyRequest } from 'fastify';

/**
 * Requests that a hook has already decided to answer (an emulator fault rule, say) before routing:
 * the product's own hooks (id routing, rate limiting, authentication) skip them, without knowing who
 * answers or why.
 */
const preempted = new WeakSet<FastifyRequest>();

export function preempt(req: FastifyRequest): void {
  preempted.add(req);
}

export function isPreempted(req: FastifyRequest): boolean {
  return preempted.has(req);
}
