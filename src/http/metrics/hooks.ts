import type { App } from '../types.js';
import type { HttpMetrics } from './service.js';

/** Every answered request, the unknown-route answers included, counted by its route pattern. */
export function httpMetricsHooks(app: App, metrics: HttpMetrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    metrics.observe(req.method, route, reply.statusCode, reply.elapsedTime);
  });
}
