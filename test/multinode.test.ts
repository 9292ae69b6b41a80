import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../src/adapters/postgres/index.js';
import type { WorkItem } from '../src/engine/reconciler/store.js';
import type { PostgresServer } from './support/postgres.js';
import { suiteCluster } from './support/postgres-suite.js';
import {
  heldView,
  startServer,
  waitFor,
  writeOrganizationBootstrap,
  type Held,
  type ServerProcess,
} from './support/process.js';
import { serverOk } from './support/server-api.js';
import type { Recipient, Resource } from './support/shares.js';
import { prefixedId as id } from './helpers.js';

/**
 * Several rshare nodes on one PostgreSQL database: two API nodes behind an imaginary load balancer and
 * two reconciler workers, one of which is SIGKILLed half-way through a 1,000-recipient fan-out. Every
 * recipient must end up associated, holding each resource of its shares exactly once at its final
 * version, with the work queue drained: no item lost to the dead worker, none applied twice.
 */

const ORG = id('a0', 1);
const OWNER = id('b0', 0);
/** 110 recipient accounts; share i targets 100 of them starting at 11·i (wrapping), so holdings vary. */
const ACCOUNTS = Array.from({ length: 110 }, (_, i) => id('b1', i + 1));
const SHARES = 10;
const PER_SHARE = 100;
const UPDATED = new Set([0, 3, 6, 9]);
const TOKEN = 'multinode-owner-edit-token-00001';
const LEASE_MS = 1500;

const targetsOf = (share: number) =>
  Array.from({ length: PER_SHARE }, (_, j) => ACCOUNTS[(share * 11 + j) % ACCOUNTS.length] as string);
const resourceIdOf = (share: number, k: number) => id('e0', share * 2 + k + 1);

interface Share {
  id: string;
  status: string;
  associating_recipient_count?: number;
  associated_recipient_count?: number;
  disassociating_recipient_count?: number;
  disassociated_recipient_count?: number;
}
const api = <T>(node: ServerProcess, method: string, path: string, body?: unknown) =>
  serverOk<T>(node, TOKEN, method, path, body);

/** Every page of a collection, `perPage` at a time, checking the paging metadata on the way. */
async function all<T>(node: ServerProcess, path: string, perPage: number): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; ; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api<T[]>(node, 'GET', `${path}${sep}per_page=${perPage}&page=${page}`);
    const info = res.result_info;
    assert.ok(info, path);
    assert.equal(info.page, page);
    out.push(...res.result);
    if (res.result.length < perPage || out.length >= info.total_count) {
      assert.equal(out.length, info.total_count, `${path}: pages add up to total_count`);
      return out;
    }
    assert.ok(page < 1000, 'runaway paging');
  }
}

describe('multi-node: two API nodes and two workers on one PostgreSQL, a worker SIGKILLed mid-fan-out', () => {
  let server: PostgresServer | undefined;
  let admin: pg.Client | undefined;
  let db: pg.Client | undefined;
  let dir: string | undefined;
  const nodes: ServerProcess[] = [];
  let apiNodes: ServerProcess[] = [];
  let workers: ServerProcess[] = [];
  let dbName: string;

  const cluster = suiteCluster('multi-node');
  const skipped = cluster.skipped;

  before(async () => {
    server = await cluster.start();
    if (!server) return;
    dbName = `rshare_multi_${randomBytes(6).toString('hex')}`;
    admin = new pg.Client(server.url);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(server.url);
    url.pathname = `/${dbName}`;
    const database = url.toString();

    dir = mkdtempSync(join(tmpdir(), 'rshare-multi-'));
    const bootstrap = join(dir, 'bootstrap.json');
    const accounts = [OWNER, ...ACCOUNTS];
    writeOrganizationBootstrap(bootstrap, {
      organization: ORG,
      name: 'Multi-node Org',
      accounts,
      token: TOKEN,
    });
    // All four start together, as a deployment rolls out: migrations and bootstrap race on one database.
    const apiNode = () =>
      startServer({ database, bootstrap, role: 'api', logLevel: 'warn', readyTimeoutMs: 45_000 });
    const worker = () =>
      startServer({
        database,
        role: 'worker',
        leaseMs: LEASE_MS,
        pollMs: 50,
        logLevel: 'warn',
        readyTimeoutMs: 45_000,
      });
    const started = await Promise.allSettled([apiNode(), apiNode(), worker(), worker()]);
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    apiNodes = nodes.slice(0, 2);
    workers = nodes.slice(2, 4);

    db = new pg.Client(database);
    await db.connect();
  });

  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await db?.end().catch(() => {});
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
      await admin.end().catch(() => {});
    }
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('fan-out: given 10 shares × 100 recipients created through both API nodes, some resources updated, and a worker SIGKILLed half-way, when the surviving worker finishes, then every recipient is associated and holds each of its shares resources exactly once at its final version, and no work is left', async (t) => {
    if (skipped(t)) return;
    const [apiA, apiB] = apiNodes as [ServerProcess, ServerProcess];
    const [doomed, survivor] = workers as [ServerProcess, ServerProcess];
    const via = (n: number) => (n % 2 === 0 ? apiA : apiB);

    const created: { id: string; resources: Resource[] }[] = [];
    const createShare = async (i: number) => {
      const res = await api<{ id: string }>(via(i), 'POST', `/accounts/${OWNER}/shares`, {
        name: `multi-node share ${i}`,
        recipients: targetsOf(i).map((a) => ({ recipient_account_id: a })),
        resources: [0, 1].map((k) => ({
          resource_id: resourceIdOf(i, k),
          resource_type: 'custom-ruleset',
          resource_account_id: OWNER,
          meta: { share: i, k },
        })),
      });
      // Read back through the other node: both serve the same database.
      const resources = await all<Resource>(
        via(i + 1),
        `/accounts/${OWNER}/shares/${res.result.id}/resources`,
        100,
      );
      assert.deepEqual(
        resources.map((r) => [r.resource_id, r.resource_version, r.status]).sort(),
        [0, 1].map((k) => [resourceIdOf(i, k), 1, 'active']),
      );
      created[i] = { id: res.result.id, resources };
    };
    const associatedSoFar = async () => {
      let sum = 0;
      for (const [i, s] of created.entries()) {
        const share = await api<Share>(
          via(i),
          'GET',
          `/accounts/${OWNER}/shares/${s.id}?include_recipient_counts=true`,
        );
        sum += share.result.associated_recipient_count ?? 0;
      }
      return sum;
    };

    // Half the shares, then kill a worker as soon as the fan-out is visibly under way: the other half does
    // not exist yet, so not every recipient can be associated.
    for (let i = 0; i < SHARES / 2; i++) await createShare(i);
    const atKill = await waitFor(
      'the first associated recipients',
      async () => {
        const n = await associatedSoFar();
        return n > 0 ? n : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    const { rows: leased } = await db!.query<{ n: number }>(
      'SELECT COUNT(*)::int AS n FROM reconcile_work WHERE lease_owner IS NOT NULL',
    );
    await doomed.kill();
    assert.equal(doomed.child.signalCode, 'SIGKILL');
    assert.ok(atKill > 0 && atKill < SHARES * PER_SHARE, `associated at the kill: ${atKill}`);
    t.diagnostic(`associated when the worker was killed: ${atKill}; leased items: ${leased[0]?.n}`);

    for (let i = SHARES / 2; i < SHARES; i++) await createShare(i);
    for (const i of UPDATED) {
      const share = created[i];
      const target = share?.resources.find((r) => r.resource_id === resourceIdOf(i, 0));
      assert.ok(share && target);
      const res = await api<Resource>(
        via(i + 1),
        'PUT',
        `/accounts/${OWNER}/shares/${share.id}/resources/${target.id}`,
        {
          meta: { share: i, k: 0, updated: true },
        },
      );
      assert.equal(res.result.resource_version, 2);
    }

    // Converges (bounded) on the survivor alone, including the dead worker's leased items.
    await waitFor(
      'every recipient of every share associated and the work queue empty',
      async () => {
        for (const [i, s] of created.entries()) {
          const share = await api<Share>(
            via(i),
            'GET',
            `/accounts/${OWNER}/shares/${s.id}?include_recipient_counts=true`,
          );
          if (share.result.associated_recipient_count !== PER_SHARE) return undefined;
        }
        const { rows } = await db!.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM reconcile_work');
        return rows[0]?.n === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.equal(survivor.child.exitCode, null, 'the surviving worker is still running');

    const finalVersion = (i: number, k: number) => (k === 0 && UPDATED.has(i) ? 2 : 1);
    const finalMeta = (i: number, k: number) =>
      k === 0 && UPDATED.has(i) ? { share: i, k, updated: true } : { share: i, k };

    // Each share: counts settled, every recipient associated with both resources applied at their final version.
    for (const [i, s] of created.entries()) {
      const share = await api<Share>(
        via(i + 1),
        'GET',
        `/accounts/${OWNER}/shares/${s.id}?include_recipient_counts=true`,
      );
      assert.deepEqual(
        [
          share.result.status,
          share.result.associating_recipient_count,
          share.result.associated_recipient_count,
          share.result.disassociating_recipient_count,
          share.result.disassociated_recipient_count,
        ],
        ['active', 0, PER_SHARE, 0, 0],
        `share ${i}`,
      );
      const recipients = await all<Recipient>(
        via(i),
        `/accounts/${OWNER}/shares/${s.id}/recipients?include_resources=true`,
        50,
      );
      assert.deepEqual(recipients.map((r) => r.account_id).sort(), [...targetsOf(i)].sort(), `share ${i}`);
      const expected = [0, 1].map((k) => ({
        resource_id: resourceIdOf(i, k),
        resource_version: finalVersion(i, k),
        error: '',
        terminal: false,
      }));
      for (const r of recipients) {
        assert.equal(r.association_status, 'associated', `share ${i} / ${r.account_id}`);
        assert.deepEqual(
          [...(r.resources ?? [])].sort((a, b) => a.resource_id.localeCompare(b.resource_id)),
          expected,
          `share ${i} / ${r.account_id}`,
        );
      }
    }

    // Each account's inventory, paged through alternating API nodes: exactly its shares' resources, once each.
    let held = 0;
    for (const [n, account] of ACCOUNTS.entries()) {
      const items = await all<Held>(via(n), `/accounts/${account}/shared-resources`, 7);
      const expected = created
        .flatMap((s, i) =>
          targetsOf(i).includes(account)
            ? s.resources.map((r) => {
                const k = r.resource_id === resourceIdOf(i, 0) ? 0 : 1;
                return {
                  id: r.id,
                  share_id: s.id,
                  resource_id: r.resource_id,
                  resource_type: 'custom-ruleset',
                  resource_account_id: OWNER,
                  meta: finalMeta(i, k),
                  resource_version: finalVersion(i, k),
                };
              })
            : [],
        )
        .sort((a, b) => a.id.localeCompare(b.id));
      const got = heldView(items);
      assert.deepEqual(got, expected, account);
      held += got.length;
    }
    // 1,000 recipients × 2 resources, no more, no fewer.
    assert.equal(held, SHARES * PER_SHARE * 2);
    const owner = await api<Held[]>(apiA, 'GET', `/accounts/${OWNER}/shared-resources`);
    assert.equal(owner.result_info?.total_count, 0, 'the owner is not a recipient');

    const { rows } = await db!.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM reconcile_work');
    assert.deepEqual(rows, [{ n: 0 }]);
  });

  test('claim: given 300 due items and six workers on separate pools claiming at once, when they claim, then every item is leased to exactly one of them, and none again until its lease expires', async (t) => {
    if (skipped(t)) return;
    const name = `${dbName}_claim`;
    await admin!.query(`CREATE DATABASE ${name}`);
    const url = new URL(server!.url);
    url.pathname = `/${name}`;
    // One store (pool) per worker, as on separate nodes.
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => openPostgresStore(url.toString(), { max: 2 })),
    );
    try {
      const ids = Array.from({ length: 300 }, (_, i) => id('f0', i));
      for (const itemId of ids) await stores[0]!.reconciler.enqueue('recipient', itemId);
      const now = Date.now();
      const batches = await Promise.all(
        stores.map((s, w) => s.reconciler.claim(`worker-${w}`, now, 60_000, 80)),
      );
      const claimed = batches.flat();
      assert.equal(claimed.length, 300, `batch sizes: ${batches.map((b) => b.length).join(', ')}`);
      assert.deepEqual(claimed.map((c) => c.id).sort(), ids);
      for (const c of claimed)
        assert.deepEqual(c, { kind: 'recipient', id: c.id, generation: 1, attempts: 0 } satisfies WorkItem);
      const owners = await stores[0]!.pool.query<{ lease_owner: string; n: number }>(
        'SELECT lease_owner, COUNT(*)::int AS n FROM reconcile_work GROUP BY lease_owner ORDER BY lease_owner',
      );
      assert.deepEqual(
        owners.rows,
        batches.map((b, w) => ({ lease_owner: `worker-${w}`, n: b.length })).filter((o) => o.n > 0),
      );
      assert.deepEqual(await stores[1]!.reconciler.claim('late', now + 59_999, 60_000, 500), []);
      assert.equal((await stores[1]!.reconciler.claim('late', now + 60_000, 60_000, 500)).length, 300);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await admin!.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});
