/**
 * Part 4 (and the organization-targeted create latency of part 2): shares to the whole 20,000-account
 * organization, each created, then polled until every member is `associated`. The POST's answer time
 * is the create latency; creation to full association is the fan-out time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerProcess } from '../test/support/process.js';
import { JsonClient, percentile } from './client.js';
import { shareBody } from './fixtures.js';
import type { ScaleContext } from './scale-context.js';
import type { Tenancy } from './scale-fixtures.js';
import { fmt, ms } from './scale-report.js';
import { drained } from './scale-server.js';

const CREATE_MS = 50;
const FANOUT_MS = 10_000;
const POLL_MS = 20;

interface Fanout {
  createMs: number;
  /** Creation to every recipient associated; null when not converged within the bound. */
  fanoutMs: number | null;
  associated: number;
  polls: number[];
}

export async function runFanouts(ctx: ScaleContext, server: ServerProcess, t: Tenancy): Promise<void> {
  const { config, report, store } = ctx;
  const n = t.big.recipients.length;
  report.heading(
    `Organization-targeted share in the ${fmt(n + 1, 0)}-account organization`,
    `${config.fanouts} create(s), each polled every ${POLL_MS} ms until all ${fmt(n, 0)} recipients are associated`,
  );
  const client = new JsonClient(server.url, t.tokens.owners);
  const runs: Fanout[] = [];
  try {
    for (let i = 0; i < config.fanouts; i++) {
      await drained(server);
      runs.push(await fanout(client, t, i, config.fanoutBoundMs));
    }
  } finally {
    client.close();
  }
  const creates = runs.map((r) => r.createMs);
  const worstCreate = Math.max(...creates);
  report.figure(
    store,
    'organization-targeted create, answer time',
    `max ${ms(worstCreate)} (${creates.map((c) => ms(c)).join(', ')})`,
    `< ${CREATE_MS} ms`,
    worstCreate < CREATE_MS,
  );
  const converged = runs.every((r) => r.fanoutMs !== null);
  const worst = Math.max(...runs.map((r) => r.fanoutMs ?? Number.POSITIVE_INFINITY));
  report.figure(
    store,
    `fan-out to ${fmt(n, 0)} accounts`,
    converged
      ? `max ${fmt(worst / 1000, 2)} s (${runs.map((r) => `${fmt((r.fanoutMs ?? 0) / 1000, 2)} s`).join(', ')}; ${fmt((n / worst) * 1000, 0)} recipients/s)`
      : `not converged within ${config.fanoutBoundMs / 1000} s (${runs.map((r) => r.associated).join(', ')} of ${n})`,
    `< ${FANOUT_MS / 1000} s`,
    converged && worst < FANOUT_MS,
  );
  const polls = runs.flatMap((r) => r.polls);
  report.figure(
    store,
    'API latency while fanning out (GET share polls)',
    `p50 ${ms(percentile(polls, 50))}, max ${ms(Math.max(...polls))} (${polls.length} polls)`,
  );
  ctx.results.fanout = runs.map(({ polls: p, ...r }) => ({
    ...r,
    polls: p.length,
    pollMaxMs: Math.max(...p),
  }));
}

async function fanout(client: JsonClient, t: Tenancy, i: number, boundMs: number): Promise<Fanout> {
  const n = t.big.recipients.length;
  const { result: share, ms: createMs } = await client.expect<{ id: string }>(
    201,
    'POST',
    `/client/v4/accounts/${t.big.owner}/shares`,
    shareBody(t.big, `scale fan-out ${i}`, 'organization'),
  );
  const t0 = performance.now();
  const polls: number[] = [];
  let associated = 0;
  while (performance.now() - t0 < boundMs) {
    const pollStart = performance.now();
    const { result, ms: took } = await client.expect<{ associated_recipient_count: number }>(
      200,
      'GET',
      `/client/v4/accounts/${t.big.owner}/shares/${share.id}?include_recipient_counts=true`,
    );
    polls.push(took);
    associated = result.associated_recipient_count;
    if (associated === n) return { createMs, fanoutMs: performance.now() - t0, associated, polls };
    await sleep(Math.max(0, POLL_MS - (performance.now() - pollStart)));
  }
  return { createMs, fanoutMs: null, associated, polls };
}
