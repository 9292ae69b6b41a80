/**
 * Server-side helpers of the scale run: a timed `rshare serve` start, the reconciler's backlog, and one
 * closed-loop load in a forked load generator (so it never shares an event loop with this process).
 */
import {
  freePort,
  startServer,
  waitFor,
  type ServerProcess,
  type ServerProcessOptions,
} from '../test/support/process.js';
import type { LoadConfig, LoadResult } from './loadgen.js';
import { ask, end, forkTs } from './proc.js';

/**
 * Starts the server and measures spawn → first 200 from /readyz (what an orchestrator waits for). The
 * port is picked before the clock starts; /readyz is polled every 50 ms, so the figure is that coarse.
 */
export async function timedStart(
  options: ServerProcessOptions,
): Promise<{ server: ServerProcess; ms: number }> {
  const port = options.port ?? (await freePort());
  const started = performance.now();
  const server = await startServer({ ...options, port });
  return { server, ms: performance.now() - started };
}

/** Pending reconciler work, from the server's Prometheus metrics. */
export async function pending(server: ServerProcess): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const match = /^rshare_reconcile_pending (\d+)/m.exec(await res.text());
  if (!match) throw new Error('rshare_reconcile_pending missing from /metrics');
  return Number(match[1]);
}

/** Waits (bounded) until the reconciler has nothing left, so one measurement's backlog never slows the next. */
export async function drained(server: ServerProcess, timeoutMs = 120_000, intervalMs = 100): Promise<void> {
  await waitFor('the reconciler to drain', async () => ((await pending(server)) === 0 ? true : undefined), {
    timeoutMs,
    intervalMs,
  });
}

/** One load (GET or POST) from a forked load generator; throws if it broke. */
export async function load(config: LoadConfig): Promise<LoadResult> {
  const child = forkTs('./loadgen.ts');
  try {
    const answer = await ask<{ ok: boolean; result?: LoadResult; error?: string }>(
      child,
      config,
      config.warmupMs + config.durationMs + 30_000,
    );
    if (!answer.ok || !answer.result) throw new Error(`load generator failed: ${answer.error}`);
    return answer.result;
  } finally {
    await end(child);
  }
}
