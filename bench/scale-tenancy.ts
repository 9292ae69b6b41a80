/**
 * Part 2 of the scale run: does the size of a caller's tenancy cost anything per request? GET share with
 * a token over 1 account, a token over 20,000 and a user holding 20,000 (all the same share, so only
 * authentication and scope checks differ), and creates in the 20,000-account organization against the
 * 3-account one (same body shape, one account recipient). All in alternating rounds on one server.
 */
import type { ServerProcess } from '../test/support/process.js';
import { JsonClient } from './client.js';
import { shareBody } from './fixtures.js';
import type { LoadConfig } from './loadgen.js';
import { alternate, best, describe, fromLoad, ratioVerdict, type Contender } from './scale-compare.js';
import type { ScaleContext } from './scale-context.js';
import { oneRecipientBody, type Tenancy } from './scale-fixtures.js';
import { fmt, say } from './scale-report.js';
import { drained, load } from './scale-server.js';

const GET_RATIO = 0.9;
const CREATE_RATIO = 0.8;

export async function runTenancy(ctx: ScaleContext, server: ServerProcess, t: Tenancy): Promise<void> {
  const { report, store, config } = ctx;
  const n = fmt(t.big.recipients.length + 1, 0);
  const loadOf = (path: string, headers: Record<string, string>, extra: Partial<LoadConfig> = {}) => ({
    url: `${server.url}${path}`,
    headers,
    client: 'raw' as const,
    ...config.load,
    ...extra,
  });
  const timing = `${config.load.connections} connections, ${config.load.warmupMs / 1000} s warm-up + ${config.load.durationMs / 1000} s, best of ${config.rounds} alternating round(s)`;

  report.heading(`Tenancy: GET share by credential scope`, timing);
  const client = new JsonClient(server.url, t.tokens.owners);
  let path: string;
  try {
    const { result } = await client.expect<{ id: string }>(
      201,
      'POST',
      `/client/v4/accounts/${t.big.owner}/shares`,
      shareBody(t.big, 'tenancy share', { accounts: [t.big.recipients[0] as string] }),
    );
    path = `/client/v4/accounts/${t.big.owner}/shares/${result.id}`;
  } finally {
    client.close();
  }
  await drained(server);
  const credentials: [string, Record<string, string>][] = [
    ['token scoped to 1 account', { authorization: `Bearer ${t.tokens.one}` }],
    [`token scoped to ${n} accounts`, { authorization: `Bearer ${t.tokens.all}` }],
    [
      `user holding ${n} accounts (X-Auth-Email/Key)`,
      { 'x-auth-email': t.user.email, 'x-auth-key': t.user.key },
    ],
  ];
  const gets = await alternate(
    credentials.map(([name, headers]) => ({
      name,
      run: async () => fromLoad(await load(loadOf(path, headers))),
    })),
    config.rounds,
    say,
  );
  const base = best(gets[credentials[0]?.[0] ?? '']);
  for (const [name] of credentials) {
    const m = best(gets[name]);
    report.figure(store, `GET share, ${name}`, describe(m));
  }
  for (const [name] of credentials.slice(1)) {
    const m = best(gets[name]);
    const ratio = m.rps / base.rps;
    const v = ratioVerdict(ratio, GET_RATIO, [m, base]);
    report.figure(
      store,
      `GET share req/s, ${name} / 1 account`,
      fmt(ratio, 2),
      `≥ ${GET_RATIO}`,
      v.met,
      v.verdict,
    );
  }

  report.heading('Tenancy: create share by organization size', `${timing}; reconciler drained after each`);
  const owners = { authorization: `Bearer ${t.tokens.owners}` };
  const creates: Contender[] = [
    { org: t.big, label: `${n}-account org` },
    { org: t.small, label: '3-account org' },
  ].map(({ org, label }) => ({
    name: label,
    run: async () =>
      fromLoad(
        await load(
          loadOf(`/client/v4/accounts/${org.owner}/shares`, owners, {
            method: 'POST',
            body: oneRecipientBody(org, org.recipients[0] as string),
            expectStatus: 201,
          }),
        ),
      ),
    after: () => drained(server),
  }));
  const made = await alternate(creates, config.rounds, say);
  const [bigName, smallName] = creates.map((c) => c.name) as [string, string];
  report.figure(store, `create share (1 account recipient), ${bigName}`, describe(best(made[bigName])));
  report.figure(store, `create share (1 account recipient), ${smallName}`, describe(best(made[smallName])));
  const [bigBest, smallBest] = [best(made[bigName]), best(made[smallName])];
  const ratio = bigBest.rps / smallBest.rps;
  const v = ratioVerdict(ratio, CREATE_RATIO, [bigBest, smallBest]);
  report.figure(
    store,
    `create share req/s, ${bigName} / 3-account org`,
    fmt(ratio, 2),
    `≥ ${CREATE_RATIO}`,
    v.met,
    v.verdict,
  );
  ctx.results.tenancy = { gets, creates: made };
}
