/**
 * Part 3 of the scale run: rshare against a bare node:http server answering the very bytes rshare
 * answered (same status, same body), for a GET share, a page of 100 shares with their resources, and a
 * durable create (the reconciler runs in the server process and is drained after each round). Measured
 * with the project's raw-socket load generator and with wrk, each in alternating rounds.
 */
import type { ChildProcess } from 'node:child_process';
import type { ServerProcess } from '../test/support/process.js';
import { JsonClient } from './client.js';
import { shareBody } from './fixtures.js';
import { ask, end, forkTs } from './proc.js';
import {
  alternate,
  best,
  describe,
  fromLoad,
  fromWrk,
  ratioVerdict,
  type Contender,
} from './scale-compare.js';
import type { ScaleContext } from './scale-context.js';
import { oneRecipientBody, type Tenancy } from './scale-fixtures.js';
import { fmt, say } from './scale-report.js';
import { drained, load } from './scale-server.js';
import { runWrk } from './wrk.js';

interface Kind {
  label: string;
  target: number;
  path: string;
  method: 'GET' | 'POST';
  body?: string;
  status: number;
}

/** The list of part 3: an account that has received `LISTED` shares, each with one resource. */
const LISTED = 100;

export async function runThroughput(
  ctx: ScaleContext,
  server: ServerProcess,
  t: Tenancy,
  wrk: { ok: true } | { ok: false; why: string },
): Promise<void> {
  const { config, report } = ctx;
  const headers = { authorization: `Bearer ${t.tokens.owners}` };
  const lister = t.small.recipients[1] as string;
  const client = new JsonClient(server.url, t.tokens.owners, 8);
  let sharePath: string;
  try {
    const { result } = await client.expect<{ id: string }>(
      201,
      'POST',
      `/client/v4/accounts/${t.small.owner}/shares`,
      shareBody(t.small, 'throughput share', { accounts: [t.small.recipients[0] as string] }),
    );
    sharePath = `/client/v4/accounts/${t.small.owner}/shares/${result.id}`;
    for (let i = 0; i < LISTED; i++) {
      const body = shareBody(t.small, `listed share ${i}`, { accounts: [lister] });
      await client.expect(201, 'POST', `/client/v4/accounts/${t.small.owner}/shares`, body);
    }
  } finally {
    client.close();
  }
  await drained(server);

  const kinds: Kind[] = [
    { label: 'GET share', target: 0.5, path: sharePath, method: 'GET', status: 200 },
    {
      label: `GET ${LISTED} shares, include_resources=true`,
      target: 0.3,
      path: `/client/v4/accounts/${lister}/shares?per_page=${LISTED}&include_resources=true`,
      method: 'GET',
      status: 200,
    },
    {
      label: 'POST create share (durable, reconciler in process)',
      target: 0.2,
      path: `/client/v4/accounts/${t.small.owner}/shares`,
      method: 'POST',
      body: oneRecipientBody(t.small, t.small.recipients[0] as string),
      status: 201,
    },
  ];
  const results: Record<string, unknown> = {};
  for (const kind of kinds) {
    report.heading(
      `Throughput vs bare node:http: ${kind.label}`,
      `load generator ${config.load.connections} connections ${config.load.durationMs / 1000} s; wrk -t1 -c${config.wrk.connections} -d${config.wrk.seconds}s; best of ${config.rounds} alternating round(s)`,
    );
    results[kind.label] = await compare(ctx, server, kind, headers, wrk);
  }
  ctx.results.throughput = results;
}

async function compare(
  ctx: ScaleContext,
  server: ServerProcess,
  kind: Kind,
  headers: Record<string, string>,
  wrk: { ok: true } | { ok: false; why: string },
): Promise<unknown> {
  const { config, report, store } = ctx;
  // The bytes rshare answers, once, which the bare server then answers to every request.
  const sample = await fetch(`${server.url}${kind.path}`, {
    method: kind.method,
    headers: kind.body ? { ...headers, 'content-type': 'application/json' } : headers,
    body: kind.body,
  });
  const body = await sample.text();
  if (sample.status !== kind.status) throw new Error(`${kind.label}: ${sample.status} ${body.slice(0, 500)}`);
  await drained(server);

  const bare: ChildProcess = forkTs('./bare-server.ts');
  ctx.track('bare', () => bare.kill('SIGKILL'));
  try {
    const { port } = await ask<{ port: number }>(bare, { kind: 'node', body, status: kind.status }, 20_000);
    const urls = { rshare: `${server.url}${kind.path}`, bare: `http://127.0.0.1:${port}${kind.path}` };
    // Creates leave reconciler work behind; the next round starts from an idle server.
    const after = kind.method === 'POST' ? () => drained(server) : undefined;
    const side = (name: 'rshare' | 'bare', tool: 'loadgen' | 'wrk'): Contender => ({
      name,
      after: name === 'rshare' ? after : undefined,
      run: async () =>
        tool === 'loadgen'
          ? fromLoad(
              await load({
                url: urls[name],
                headers,
                client: 'raw',
                method: kind.method,
                body: kind.body,
                expectStatus: kind.status,
                ...config.load,
              }),
            )
          : fromWrk(
              await runWrk(
                { url: urls[name], method: kind.method, headers, body: kind.body, ...config.wrk },
                (kill) => ctx.track('wrk', kill),
              ),
            ),
    });
    const out: Record<string, unknown> = { bodyBytes: Buffer.byteLength(body) };
    for (const tool of ['loadgen', 'wrk'] as const) {
      const label = tool === 'loadgen' ? 'load generator' : 'wrk';
      if (tool === 'wrk' && !wrk.ok) {
        report.figure(
          store,
          `${kind.label}, rshare / bare req/s (${label})`,
          `not run: ${wrk.why}`,
          `≥ ${kind.target}`,
        );
        continue;
      }
      const got = await alternate([side('rshare', tool), side('bare', tool)], config.rounds, say);
      const r = best(got.rshare);
      const b = best(got.bare);
      report.figure(store, `${kind.label}, rshare (${label})`, describe(r));
      report.figure(store, `${kind.label}, bare node:http (${label})`, describe(b));
      const ratio = r.rps / b.rps;
      const v = ratioVerdict(ratio, kind.target, [r, b]);
      report.figure(
        store,
        `${kind.label}, rshare / bare req/s (${label})`,
        `${fmt(r.rps, 0)} / ${fmt(b.rps, 0)} = ${fmt(ratio, 2)}`,
        `≥ ${kind.target}`,
        v.met,
        v.verdict,
      );
      out[tool] = got;
    }
    return out;
  } finally {
    await end(bare);
    ctx.track('bare', undefined);
  }
}
