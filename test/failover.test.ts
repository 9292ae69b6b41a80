import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findPgBouncer, startPgBouncer, type PgBouncer } from './support/pgbouncer.js';
import {
  findPostgresBin,
  startPostgres,
  startStandby,
  type PostgresServer,
  type StandbyServer,
} from './support/postgres.js';
import { startServer, waitFor, writeOrganizationBootstrap, type ServerProcess } from './support/process.js';
import { prefixedId as id } from './helpers.js';

/**
 * A failover as production sees it: a PostgreSQL primary with a synchronous standby, PgBouncer in front,
 * two API nodes and a worker connecting only through PgBouncer. Under a bounded write load the primary is
 * SIGKILLed, the standby promoted and PgBouncer repointed (ini rewritten, SIGHUP), which is what Patroni
 * or pg_auto_failover do. Nothing acknowledged may be lost, every failure in the window must be a 503 in
 * the envelope, writes must succeed again after the repoint, the worker must converge on the new primary and
 * every process must survive. Once per PgBouncer pool mode. This file starts its own PostgreSQL clusters
 * and PgBouncer, so it runs in the SQLite pass only.
 */

const SKIP = !findPostgresBin()
  ? 'PostgreSQL binaries not found'
  : !findPgBouncer()
    ? 'pgbouncer not found'
    : undefined;

const ORG = id('a0', 1);
const OWNER = id('b0', 0);
const RECIPIENTS = Array.from({ length: 5 }, (_, i) => id('b1', i + 1));
const TOKEN = 'failover-owner-edit-token-000001';
const WRITERS = 8;
/** Load before the kill, and after the first success that follows it. */
const STEADY_MS = 2000;

interface Outcome {
  sentAt: number;
  doneAt: number;
  status: number;
  /** The share id when acknowledged (201). */
  shareId?: string;
  /** For failures: the envelope's first error code and the Retry-After header. */
  code?: number;
  retryAfter?: string | null;
}

async function createShare(node: ServerProcess, n: number): Promise<Outcome> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${node.url}/client/v4/accounts/${OWNER}/shares`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `failover share ${n}`,
        recipients: [{ recipient_account_id: RECIPIENTS[n % RECIPIENTS.length] }],
        resources: [
          {
            resource_id: id('e0', n + 1),
            resource_type: 'custom-ruleset',
            resource_account_id: OWNER,
            meta: { n },
          },
        ],
      }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await res.json()) as {
      success: boolean;
      result?: { id: string };
      errors?: { code: number }[];
    };
    const doneAt = Date.now();
    if (res.status === 201 && body.success && body.result) {
      return { sentAt, doneAt, status: 201, shareId: body.result.id };
    }
    return {
      sentAt,
      doneAt,
      status: res.status,
      code: body.errors?.[0]?.code,
      retryAfter: res.headers.get('retry-after'),
    };
  } catch {
    // No answer at all (a crashed node, a reset socket): never acceptable, counted as status 0.
    return { sentAt, doneAt: Date.now(), status: 0 };
  }
}

for (const mode of ['transaction', 'session'] as const) {
  describe(`failover behind PgBouncer in ${mode} mode`, () => {
    let primary: PostgresServer | undefined;
    let standby: StandbyServer | undefined;
    let bouncer: PgBouncer | undefined;
    let dir: string | undefined;
    const nodes: ServerProcess[] = [];

    const skipped = (t: TestContext) => {
      if (bouncer && nodes.length === 3) return false;
      t.skip(SKIP);
      return true;
    };

    before(async () => {
      if (SKIP) {
        process.stderr.write(`\n*** failover tests SKIPPED: ${SKIP} ***\n\n`);
        return;
      }
      // Durable, synchronous commits: an acknowledged commit is on the standby before the client hears of it.
      const durable = { durableCommits: true };
      primary = await startPostgres({ ...durable, settings: ["synchronous_standby_names='*'"] });
      standby = await startStandby(primary, durable);
      const admin = new pg.Client(primary.url);
      await admin.connect();
      try {
        // Commits wait for the standby from here on; check it is the synchronous one.
        await waitFor('the standby to stream synchronously', async () => {
          const { rows } = await admin.query<{ s: string }>(
            'SELECT sync_state AS s FROM pg_stat_replication',
          );
          return rows[0]?.s === 'sync' ? true : undefined;
        });
        // Behind a transaction pooler the role's default bounds single statements (README); replicated.
        await admin.query(`ALTER ROLE rshare SET statement_timeout = '4000ms'`);
      } finally {
        await admin.end();
      }
      bouncer = await startPgBouncer({ serverPort: primary.port, mode });
      const database = bouncer.url('postgres');
      dir = mkdtempSync(join(tmpdir(), 'rshare-failover-'));
      const bootstrap = join(dir, 'bootstrap.json');
      writeOrganizationBootstrap(bootstrap, {
        organization: ORG,
        name: 'Failover Org',
        accounts: [OWNER, ...RECIPIENTS],
        token: TOKEN,
      });
      const serveArgs = ['--pg-pooler', mode, '--pool-size', '8'];
      const started = await Promise.allSettled([
        startServer({ database, bootstrap, role: 'api', serveArgs, readyTimeoutMs: 45_000 }),
        startServer({ database, bootstrap, role: 'api', serveArgs, readyTimeoutMs: 45_000 }),
        startServer({
          database,
          role: 'worker',
          leaseMs: 1500,
          pollMs: 50,
          serveArgs,
          readyTimeoutMs: 45_000,
        }),
      ]);
      for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    });

    after(async () => {
      await Promise.allSettled(nodes.map((n) => n.kill()));
      await bouncer?.stop();
      standby?.stop();
      primary?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test(`failover (${mode}): given writes under load through two API nodes, when the primary is SIGKILLed, the synchronous standby promoted and PgBouncer repointed, then nothing acknowledged is lost, the window answers only 503, writes succeed again within 10 s, the worker converges and every process survives`, async (t) => {
      if (skipped(t)) return;
      const [apiA, apiB, worker] = nodes as [ServerProcess, ServerProcess, ServerProcess];
      const outcomes: Outcome[] = [];
      let next = 0;
      let stopAt = Number.POSITIVE_INFINITY;
      let killedAt = Number.POSITIVE_INFINITY;
      const hardStop = Date.now() + 60_000; // bounded whatever happens
      const writer = async () => {
        while (Date.now() < Math.min(stopAt, hardStop)) {
          const n = next++;
          outcomes.push(await createShare(n % 2 === 0 ? apiA : apiB, n));
        }
      };
      const firstSuccessAfterKill = () =>
        outcomes.find((o) => o.status === 201 && o.sentAt >= killedAt && o.doneAt >= killedAt);
      const load = Promise.all(Array.from({ length: WRITERS }, writer));

      await sleep(STEADY_MS);
      const ackedBefore = outcomes.filter((o) => o.status === 201).length;
      killedAt = Date.now();
      primary!.crash();
      standby!.promote();
      await bouncer!.repoint(standby!.port);
      const repointedAfter = (Date.now() - killedAt) / 1000;
      const first = await waitFor('a write acknowledged after the kill', () => firstSuccessAfterKill(), {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      stopAt = Date.now() + STEADY_MS;
      await load;

      const acked = outcomes.filter((o) => o.status === 201).map((o) => o.shareId as string);
      const failures = outcomes.filter((o) => o.status !== 201);
      const statuses: Record<string, number> = {};
      for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
      const secondsToFirst = (first.doneAt - killedAt) / 1000;

      const db = new pg.Client(standby!.url);
      await db.connect();
      try {
        const { rows } = await db.query<{ n: number }>(
          'SELECT COUNT(*)::int AS n FROM shares WHERE id = ANY($1)',
          [acked],
        );
        const lost = acked.length - (rows[0]?.n ?? 0);
        const figures =
          `${mode} mode: ${outcomes.length} requests, ${acked.length} acknowledged (${ackedBefore} before the kill), ` +
          `${lost} lost, standby promoted and PgBouncer repointed ${repointedAfter.toFixed(2)} s after the kill, ` +
          `first success ${secondsToFirst.toFixed(2)} s after the kill, slowest failure answered in ` +
          `${(Math.max(0, ...failures.map((o) => o.doneAt - o.sentAt)) / 1000).toFixed(2)} s, statuses ${JSON.stringify(statuses)}`;
        t.diagnostic(figures);
        console.log(`failover figures: ${figures}`);

        assert.ok(ackedBefore > 0, 'writes were acknowledged before the kill');
        assert.equal(lost, 0, 'acknowledged shares lost');
        // Order, not time: a write sent after the kill was acknowledged, and writes sent after it kept succeeding.
        assert.equal(first.status, 201);
        assert.ok(first.sentAt >= killedAt, 'the first success after the kill was sent after it');
        assert.ok(
          acked.length > ackedBefore && outcomes.some((o) => o.status === 201 && o.sentAt >= first.doneAt),
          'writes are acknowledged again after the failover',
        );
        assert.deepEqual(
          [...new Set(failures.map((o) => `${o.status} ${o.code} retry-after ${o.retryAfter}`))],
          failures.length ? ['503 1503 retry-after 5'] : [],
          'every failure is a 503 / 1503 with Retry-After',
        );

        // The worker converges on the new primary: every share, acknowledged or in doubt, delivered exactly once.
        await waitFor(
          'the worker to deliver every share and drain its queue',
          async () => {
            const { rows: r } = await db.query<{ work: number; pending: number }>(
              `SELECT (SELECT COUNT(*)::int FROM reconcile_work) AS work,
                      (SELECT COUNT(*)::int FROM share_recipients WHERE status <> 'associated') AS pending`,
            );
            return r[0]?.work === 0 && r[0]?.pending === 0 ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        const { rows: held } = await db.query<{ shares: number; held: number; resources: number }>(
          `SELECT (SELECT COUNT(*)::int FROM shares) AS shares,
                  (SELECT COUNT(*)::int FROM inventory) AS held,
                  (SELECT COUNT(*)::int FROM share_resources) AS resources`,
        );
        const { shares = 0, resources = 0, held: inventory = 0 } = held[0] ?? {};
        assert.ok(shares >= acked.length);
        // One recipient and one resource a share: exactly one held resource each, none missing, none twice.
        assert.deepEqual([resources, inventory], [shares, shares], 'one delivered resource per share');
      } finally {
        await db.end();
      }
      for (const node of [apiA, apiB, worker]) {
        assert.deepEqual([node.child.exitCode, node.child.signalCode], [null, null], node.output());
      }
    });
  });
}
