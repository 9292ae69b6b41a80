import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../src/adapters/sqlite/database.js';
import { WriteBatcher } from '../src/adapters/sqlite/group-commit.js';
import { StoreUnavailableError } from '../src/http/errors.js';
import type { NewShare } from '../src/cloudflare/shares/store.js';
import { hexId, ORG, OWNER, R1, setup, STRANGER, type Harness } from './helpers.js';
import { STORE_KIND } from './support/store.js';

/**
 * Group commit of SQLite API writes: jobs queued in one turn of the event loop share one transaction
 * (again with a savepoint each when one of them fails), and none is answered before that transaction
 * commits.
 */

const SQLITE_ONLY = { skip: STORE_KIND !== 'sqlite' && 'SQLite only: PostgreSQL commits each write alone' };

const isBegin = (t: string) => /^\s*BEGIN\b/i.test(t);
const isCommit = (t: string) => /^\s*COMMIT\b/i.test(t);
const isSavepoint = (t: string) => /^\s*SAVEPOINT\b/i.test(t);

/** The transactions in a statement trace, each as the number of savepoints (jobs) it held. */
function transactions(texts: readonly string[]): number[] {
  const jobs: number[] = [];
  for (const t of texts) {
    if (isBegin(t)) jobs.push(0);
    else if (isSavepoint(t)) jobs[jobs.length - 1] = (jobs.at(-1) ?? 0) + 1;
  }
  return jobs;
}

/** The transactions in a statement trace, each as the number of parent rows its jobs inserted. */
function inserts(texts: readonly string[]): number[] {
  const rows: number[] = [];
  for (const t of texts) {
    if (isBegin(t)) rows.push(0);
    else if (/^\s*INSERT INTO parent\b/i.test(t)) rows[rows.length - 1] = (rows.at(-1) ?? 0) + 1;
  }
  return rows;
}

const isRollback = (t: string) => /^\s*ROLLBACK\b(?!\s+TO\b)/i.test(t);

/** A traced connection with a parent/child pair whose foreign key is checked only at COMMIT. */
function openTraced(): { db: Database.Database; texts: string[]; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rshare-group-commit-'));
  const texts: string[] = [];
  const db = openDatabase(join(dir, 'test.db'), { onStatement: (sql) => texts.push(sql) });
  db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY, note TEXT);
    CREATE TABLE child (id INTEGER PRIMARY KEY,
      parent_id INTEGER NOT NULL REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`);
  texts.length = 0;
  return {
    db,
    texts,
    close() {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ids = (db: Database.Database, table: 'parent' | 'child') =>
  db.prepare(`SELECT id FROM ${table} ORDER BY id`).pluck().all() as number[];

describe('WriteBatcher', SQLITE_ONLY, () => {
  let t: ReturnType<typeof openTraced>;
  beforeEach(() => {
    t = openTraced();
  });
  afterEach(() => {
    t.close();
  });

  const insertParent = (id: number) => () => {
    t.db.prepare('INSERT INTO parent (id) VALUES (?)').run(id);
    return id;
  };

  test('given jobs queued in one tick, when they run, then in arrival order in one transaction, each seeing the earlier ones', async () => {
    const batcher = new WriteBatcher(t.db);
    const counted = [1, 2, 3].map((id) =>
      batcher.run(() => {
        insertParent(id)();
        return t.db.prepare('SELECT COUNT(*) FROM parent').pluck().get();
      }),
    );
    assert.deepEqual(await Promise.all(counted), [1, 2, 3]);
    // No job failed, so no savepoint was needed.
    assert.deepEqual(transactions(t.texts), [0]);
    assert.equal(t.texts.filter(isRollback).length, 0);
  });

  test('given a job that throws inside a batch, when the batch commits, then only that job is rejected, with its own error, and none of its writes stay', async () => {
    const batcher = new WriteBatcher(t.db);
    const failure = new Error('the second job fails after writing');
    const results = await Promise.allSettled([
      batcher.run(insertParent(1)),
      batcher.run(() => {
        insertParent(2)();
        t.db.prepare('UPDATE parent SET note = ? WHERE id = 1').run('by the failed job');
        throw failure;
      }),
      batcher.run(insertParent(3)),
    ]);
    assert.deepEqual(results, [
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: failure },
      { status: 'fulfilled', value: 3 },
    ]);
    assert.deepEqual(ids(t.db, 'parent'), [1, 3]);
    assert.equal(t.db.prepare('SELECT note FROM parent WHERE id = 1').pluck().get(), null);
    // Together first; rolled back when the job threw; then again with a savepoint per job.
    assert.deepEqual(transactions(t.texts), [0, 3]);
    assert.equal(t.texts.filter(isRollback).length, 1);
  });

  test('given a job alone in its flush, when it runs, then without a savepoint, and if it throws none of its writes stay', async () => {
    const batcher = new WriteBatcher(t.db);
    assert.equal(await batcher.run(insertParent(1)), 1);
    const failure = new Error('the lone job fails after writing');
    await assert.rejects(
      batcher.run(() => {
        insertParent(2)();
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.deepEqual(ids(t.db, 'parent'), [1]);
    assert.equal(t.db.inTransaction, false);
    assert.deepEqual(transactions(t.texts), [0, 0]);
  });

  test('given a batch whose COMMIT fails, when it settles, then every job is rejected and nothing of it stays', async () => {
    const batcher = new WriteBatcher(t.db);
    const results = await Promise.allSettled([
      batcher.run(insertParent(1)),
      // A child of no parent passes its statement and its savepoint; the deferred key fails the COMMIT.
      batcher.run(() => t.db.prepare('INSERT INTO child (id, parent_id) VALUES (1, 99)').run().changes),
      batcher.run(insertParent(2)),
    ]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r.reason as { code?: string }).code, 'SQLITE_CONSTRAINT_FOREIGNKEY');
    }
    assert.equal(t.db.inTransaction, false);
    assert.deepEqual(ids(t.db, 'parent'), []);
    assert.deepEqual(ids(t.db, 'child'), []);
    // The connection is left usable: the next batch commits.
    assert.equal(await batcher.run(insertParent(3)), 3);
    assert.deepEqual(ids(t.db, 'parent'), [3]);
  });

  test('given more jobs than the bound, when they are queued at once, then each flush runs at most the bound and all commit in order', async () => {
    const batcher = new WriteBatcher(t.db, 4);
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.run(insertParent(i + 1))));
    assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(inserts(t.texts), [4, 4, 2]);
    assert.deepEqual(
      ids(t.db, 'parent'),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  });

  test('given as many jobs waiting as the queue bound, when one more is queued, then it is refused at once as 503 1503 and the waiting ones all commit', async () => {
    const batcher = new WriteBatcher(t.db, 4, 8);
    const waiting = Array.from({ length: 8 }, (_, i) => batcher.run(insertParent(i + 1)));
    await assert.rejects(batcher.run(insertParent(9)), (err: unknown) => {
      assert.ok(err instanceof StoreUnavailableError);
      assert.equal(err.status, 503);
      assert.equal(err.code, 1503);
      assert.equal(err.message, 'The data store is unavailable; retry later');
      return true;
    });
    assert.deepEqual(await Promise.all(waiting), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(
      ids(t.db, 'parent'),
      Array.from({ length: 8 }, (_, i) => i + 1),
    );
    // Once flushed, the queue takes writes again.
    assert.equal(await batcher.run(insertParent(10)), 10);
  });

  test('given a transaction someone left open, when a batch flushes, then its jobs are rejected instead of answered before a commit', async () => {
    const batcher = new WriteBatcher(t.db);
    t.db.exec('BEGIN');
    const pending = batcher.run(insertParent(1));
    await assert.rejects(pending, /cannot start a transaction within a transaction/);
    t.db.exec('ROLLBACK');
    assert.deepEqual(ids(t.db, 'parent'), []);
  });

  test('given the connection closed before the flush, when it runs, then every job is rejected', async () => {
    const batcher = new WriteBatcher(t.db);
    const pending = [batcher.run(insertParent(1)), batcher.run(insertParent(2))];
    t.db.close();
    for (const p of pending) await assert.rejects(p, /database connection is not open/);
  });

  test('given a bound below 1, when a batcher is made, then it is refused', () => {
    assert.throws(() => new WriteBatcher(t.db, 0), RangeError);
    assert.throws(() => new WriteBatcher(t.db, 8, 7), RangeError);
  });
});

describe('SqliteSharesStore.create: group commit', SQLITE_ONLY, () => {
  let h: Harness;
  before(async () => {
    h = await setup({ store: { countStatements: true } });
  });
  after(async () => {
    await h.close();
  });

  const newShare = (n: number, recipient = R1): NewShare => {
    const now = h.clock.timestamp();
    const id = hexId(n, 'f');
    return {
      share: {
        id,
        account_id: OWNER,
        organization_id: ORG,
        name: `batched ${n}`,
        target_type: 'account',
        status: 'active',
        created: now,
        modified: now,
      },
      tags: { n: String(n) },
      recipients: [
        {
          id: hexId(n, 'e'),
          share_id: id,
          account_id: recipient,
          desired_status: 'associated',
          status: 'associating',
          created: now,
          modified: now,
        },
      ],
      resources: [],
    };
  };

  const seqs = () => h.sql('SELECT id, org_seq FROM shares ORDER BY org_seq');
  const counter = async () =>
    (await h.sql('SELECT share_count FROM organizations WHERE id = ?', ORG))[0]?.share_count;

  test('given creates started in the same tick, when they settle, then one transaction committed them all and each is readable', async () => {
    const n = 8;
    const texts = await h.statements.during(() =>
      Promise.all(Array.from({ length: n }, (_, i) => h.store.shares.create(newShare(i + 1)))),
    );
    assert.equal(texts.filter(isBegin).length, 1, texts.join('\n---\n'));
    assert.equal(texts.filter(isCommit).length, 1, texts.join('\n---\n'));
    assert.deepEqual(transactions(texts), [0]);
    for (let i = 1; i <= n; i++) {
      const share = await h.store.shares.get(hexId(i, 'f'));
      assert.equal(share?.name, `batched ${i}`);
    }
    // Positions in arrival order, the counter exact.
    assert.deepEqual(
      (await seqs()).map((r) => [r.id, r.org_seq]),
      Array.from({ length: n }, (_, i) => [hexId(i + 1, 'f'), i + 1]),
    );
    assert.equal(await counter(), n);
  });

  test('given a batch with a create naming a non-member and one that fails, when it commits, then those two write nothing and the counter stays exact', async () => {
    const before = (await seqs()).length;
    const taken = newShare(1); // its id is already a share's: the insert fails after the counter moved
    const results = await Promise.allSettled([
      h.store.shares.create(newShare(20)),
      h.store.shares.create(newShare(21, STRANGER)),
      h.store.shares.create(taken),
      h.store.shares.create(newShare(22)),
    ]);
    assert.deepEqual(results.slice(0, 2), [
      { status: 'fulfilled', value: { notMembers: [] } },
      { status: 'fulfilled', value: { notMembers: [STRANGER] } },
    ]);
    assert.equal(results[2]?.status, 'rejected');
    assert.equal((results[2] as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.deepEqual(results[3], { status: 'fulfilled', value: { notMembers: [] } });
    const rows = await seqs();
    assert.deepEqual(
      rows.slice(before).map((r) => [r.id, r.org_seq]),
      [
        [hexId(20, 'f'), before + 1],
        [hexId(22, 'f'), before + 2],
      ],
    );
    assert.equal(await counter(), before + 2);
    assert.deepEqual(await h.sql('SELECT id FROM share_recipients WHERE id = ?', hexId(21, 'e')), []);
  });
});
