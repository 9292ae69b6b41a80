import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  heldView,
  startServer,
  waitFor,
  writeOrganizationBootstrap,
  type Held,
  type ServerProcess,
} from './support/process.js';
import { serverCall, serverOk } from './support/server-api.js';
import type { Recipient, Resource } from './support/shares.js';
import { prefixedId as id } from './helpers.js';

/**
 * Crash recovery of the reconciler, end to end: a real `rshare serve` child process is SIGKILLed while it
 * fans a share out (and right after a delete), restarted on the same SQLite file, and must converge from
 * what the database holds (queued work, expired leases) without duplicating or losing anything.
 */

const ORG = id('c0', 1);
const OWNER = id('c1', 0);
const RECIPIENTS = Array.from({ length: 200 }, (_, i) => id('c2', i + 1));
const TOKEN = 'crash-test-owner-edit-token-0001';
const LEASE_MS = 1000;
const WAIT = { timeoutMs: 30_000, intervalMs: 100 };

interface Share {
  id: string;
  status: string;
  target_type: string;
  resources?: Resource[];
  associating_recipient_count?: number;
  associated_recipient_count?: number;
  disassociating_recipient_count?: number;
  disassociated_recipient_count?: number;
}
const api = <T>(server: ServerProcess, method: string, path: string, body?: unknown) =>
  serverCall<T>(server, TOKEN, method, path, body, 10_000);

const ok = async <T>(server: ServerProcess, method: string, path: string, body?: unknown): Promise<T> =>
  (await serverOk<T>(server, TOKEN, method, path, body, 10_000)).result;

const counts = (share: Share) => ({
  associating: share.associating_recipient_count,
  associated: share.associated_recipient_count,
  disassociating: share.disassociating_recipient_count,
  disassociated: share.disassociated_recipient_count,
});

async function allRecipients(server: ServerProcess, shareId: string): Promise<Recipient[]> {
  const out: Recipient[] = [];
  for (let page = 1; page <= 10; page++) {
    const res = await api<Recipient[]>(
      server,
      'GET',
      `/accounts/${OWNER}/shares/${shareId}/recipients?include_resources=true&per_page=100&page=${page}`,
    );
    assert.equal(res.status, 200);
    out.push(...res.body.result);
    if (out.length >= (res.body.result_info?.total_count ?? 0) || res.body.result.length === 0) break;
  }
  return out;
}

async function inventory(server: ServerProcess, account: string): Promise<{ items: Held[]; total: number }> {
  const res = await api<Held[]>(server, 'GET', `/accounts/${account}/shared-resources?per_page=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { items: res.body.result, total: res.body.result_info?.total_count ?? -1 };
}

describe('crash recovery: rshare serve SIGKILLed mid-reconcile and restarted on the same database', () => {
  let dir: string;
  let database: string;
  let bootstrap: string;
  const servers: ServerProcess[] = [];
  const connections: Database.Database[] = [];
  let shareId: string | undefined;
  let resources: Resource[] = [];

  const start = async () => {
    const server = await startServer({
      database,
      bootstrap,
      leaseMs: LEASE_MS,
      pollMs: 50,
      logLevel: 'warn',
    });
    servers.push(server);
    return server;
  };
  /** A connection to the database file of this test (readonly while a server may be writing). */
  const open = (readonly: boolean) => {
    const db = new Database(database, { readonly, fileMustExist: true, timeout: 5000 });
    connections.push(db);
    return db;
  };
  const close = (db: Database.Database) => {
    db.close();
    connections.splice(connections.indexOf(db), 1);
  };
  const pendingWork = (db: Database.Database) =>
    (db.prepare('SELECT COUNT(*) AS n FROM reconcile_work').get() as { n: number }).n;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rshare-crash-'));
    database = join(dir, 'rshare.db');
    bootstrap = join(dir, 'bootstrap.json');
    const accounts = [OWNER, ...RECIPIENTS];
    writeOrganizationBootstrap(bootstrap, { organization: ORG, name: 'Crash Org', accounts, token: TOKEN });
  });

  after(async () => {
    // Kill whatever is still running even when a test failed half-way, then clean up.
    await Promise.allSettled(servers.map((s) => s.kill()));
    for (const db of connections.splice(0)) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('organization share: given a fan-out to 200 accounts SIGKILLed half-way, when the server restarts, then every recipient is associated and holds each resource exactly once at version 1', async (t) => {
    const first = await start();
    const created = await ok<Share>(first, 'POST', `/accounts/${OWNER}/shares`, {
      name: 'crash test share',
      recipients: [{ organization_id: ORG }],
      resources: [1, 2, 3].map((n) => ({
        resource_id: id('d0', n),
        resource_type: 'custom-ruleset',
        resource_account_id: OWNER,
        meta: { rule: `rule-${n}` },
      })),
    });
    shareId = created.id;

    // The reconciler derives the recipients and settles them a group at a time, so a GET can hardly see the
    // fan-out half-way; the database can. Kill as soon as the recipients exist, before all are associated.
    const watcher = open(true);
    const derivedNow = watcher.prepare('SELECT COUNT(*) AS n FROM share_recipients WHERE share_id = ?');
    await waitFor(
      'the first derived recipient',
      async () => {
        const { n } = derivedNow.get(shareId) as { n: number };
        if (n === 0) {
          await sleep(1);
          return undefined;
        }
        first.child.kill('SIGKILL');
        return n;
      },
      { timeoutMs: 20_000, intervalMs: 0 },
    );
    await first.kill();
    close(watcher);

    // What the crash left behind: a partial fan-out, and every unfinished recipient still queued.
    const db = open(false);
    const rows = db
      .prepare(
        `SELECT r.account_id, r.status, w.id AS work FROM share_recipients r
         LEFT JOIN reconcile_work w ON w.kind = 'recipient' AND w.id = r.id WHERE r.share_id = ?`,
      )
      .all(shareId) as { account_id: string; status: string; work: string | null }[];
    assert.equal(rows.length, RECIPIENTS.length);
    const associatedAtKill = rows.filter((r) => r.status === 'associated').length;
    assert.ok(associatedAtKill < RECIPIENTS.length, `associated at the kill: ${associatedAtKill}`);
    t.diagnostic(`associated when killed: ${associatedAtKill}/${RECIPIENTS.length}`);
    const unfinished = rows.filter((r) => r.status !== 'associated');
    assert.ok(
      unfinished.every((r) => r.work !== null),
      'every unfinished recipient is still queued',
    );
    close(db);

    const second = await start();
    const converged = await waitFor(
      'all 200 recipients associated',
      async () => {
        const share = await ok<Share>(
          second,
          'GET',
          `/accounts/${OWNER}/shares/${shareId}?include_recipient_counts=true`,
        );
        return share.associated_recipient_count === RECIPIENTS.length ? share : undefined;
      },
      WAIT,
    );
    assert.deepEqual(counts(converged), {
      associating: 0,
      associated: 200,
      disassociating: 0,
      disassociated: 0,
    });
    assert.equal(converged.status, 'active');

    const full = await ok<Share>(
      second,
      'GET',
      `/accounts/${OWNER}/shares/${shareId}?include_resources=true`,
    );
    resources = full.resources ?? [];
    assert.equal(resources.length, 3);
    assert.deepEqual(
      resources.map((r) => [r.resource_id, r.status, r.resource_version]).sort(),
      [1, 2, 3].map((n) => [id('d0', n), 'active', 1]),
    );

    // Each recipient once, associated, with each resource applied at version 1 and no error.
    const recipients = await allRecipients(second, shareId);
    assert.deepEqual(recipients.map((r) => r.account_id).sort(), [...RECIPIENTS].sort());
    const expectedDelivery = resources
      .map((r) => ({ resource_id: r.resource_id, resource_version: 1, error: '', terminal: false }))
      .sort((a, b) => a.resource_id.localeCompare(b.resource_id));
    for (const r of recipients) {
      assert.equal(r.association_status, 'associated', r.account_id);
      assert.deepEqual(
        [...(r.resources ?? [])].sort((a, b) => a.resource_id.localeCompare(b.resource_id)),
        expectedDelivery,
        r.account_id,
      );
    }

    // Every recipient's inventory holds each of the 3 resources exactly once, at version 1.
    const expectedHeld = resources
      .map((r) => ({
        id: r.id,
        share_id: shareId,
        resource_id: r.resource_id,
        resource_type: 'custom-ruleset',
        resource_account_id: OWNER,
        meta: r.meta,
        resource_version: 1,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
    for (const account of RECIPIENTS) {
      const { items, total } = await inventory(second, account);
      assert.equal(total, 3, account);
      assert.deepEqual(heldView(items), expectedHeld, account);
    }
    assert.equal((await inventory(second, OWNER)).total, 0, 'the owner is not a recipient');

    // Nothing left to do (the last item is retired just after its recipient's status is written).
    const check = open(true);
    await waitFor('an empty reconcile_work', () => (pendingWork(check) === 0 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 50,
    });
    close(check);
    await second.kill();
  });

  test('share delete: given a resource update then a delete SIGKILLed right after the DELETE response, when the server restarts, then the share is deleted, every recipient disassociated and every inventory empty', async (t) => {
    assert.ok(shareId, 'the previous test created and converged the share');
    const third = await start();
    const target = resources[0];
    assert.ok(target);
    const updated = await ok<Resource>(
      third,
      'PUT',
      `/accounts/${OWNER}/shares/${shareId}/resources/${target.id}`,
      { meta: { rule: 'updated' } },
    );
    assert.equal(updated.resource_version, 2);
    assert.deepEqual(updated.meta, { rule: 'updated' });
    const deleting = await ok<Share>(third, 'DELETE', `/accounts/${OWNER}/shares/${shareId}`);
    third.child.kill('SIGKILL');
    await third.kill();
    assert.equal(deleting.status, 'deleting');

    // The kill came before the reconciler could finish: the delete is still in progress in the database.
    const db = open(false);
    const share = db.prepare('SELECT status FROM shares WHERE id = ?').get(shareId) as { status: string };
    assert.equal(share.status, 'deleting');
    const notDone = db
      .prepare("SELECT COUNT(*) AS n FROM share_recipients WHERE share_id = ? AND status <> 'disassociated'")
      .get(shareId) as { n: number };
    assert.ok(notDone.n > 0, 'some recipients were still to be disassociated at the kill');
    t.diagnostic(`recipients not yet disassociated when killed: ${notDone.n}/${RECIPIENTS.length}`);
    close(db);

    const fourth = await start();
    const deleted = await waitFor(
      'the share to be deleted',
      async () => {
        const s = await ok<Share>(
          fourth,
          'GET',
          `/accounts/${OWNER}/shares/${shareId}?include_recipient_counts=true&include_resources=true`,
        );
        return s.status === 'deleted' ? s : undefined;
      },
      WAIT,
    );
    assert.deepEqual(counts(deleted), {
      associating: 0,
      associated: 0,
      disassociating: 0,
      disassociated: 200,
    });
    assert.deepEqual(
      (deleted.resources ?? []).map((r) => [r.id, r.status]).sort(),
      resources.map((r) => [r.id, 'deleted']).sort(),
    );

    const recipients = await allRecipients(fourth, shareId);
    assert.equal(recipients.length, RECIPIENTS.length);
    for (const r of recipients) assert.equal(r.association_status, 'disassociated', r.account_id);

    for (const account of RECIPIENTS) {
      const { items, total } = await inventory(fourth, account);
      assert.deepEqual([items, total], [[], 0], account);
    }

    const check = open(true);
    await waitFor('an empty reconcile_work', () => (pendingWork(check) === 0 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 50,
    });
    const leftovers = check
      .prepare(
        `SELECT COUNT(*) AS n FROM recipient_resources rr JOIN share_recipients r ON r.id = rr.recipient_id
         WHERE r.share_id = ?`,
      )
      .get(shareId) as { n: number };
    assert.equal(leftovers.n, 0, 'no delivery state is left for the deleted share');
    close(check);
    await fourth.stop();
  });
});
