import { Counter, Histogram, Registry } from 'prom-client';

/** The label for requests that matched no route: unknown paths must not grow the label set. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Prometheus metrics of the HTTP API, kept on every node that serves it (`--role api` and `all`), in a
 * registry of their own; the server merges it with the reconciler's where one runs.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'rshare_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'rshare_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Counts one answered request; `route` is the matched pattern (`/client/v4/accounts/:account_id/…`). */
  observe(method: string, route: string | undefined, status: number, elapsedMs: number): void {
    const label = route ?? UNMATCHED_ROUTE;
    this.requests.inc({ method, route: label, status: String(status) });
    this.duration.observe({ method, route: label }, elapsedMs / 1000);
  }
}
