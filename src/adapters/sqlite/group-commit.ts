import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../../http/errors.js';
import { prepared } from './database.js';

type Db = Database.Database;

/**
 * The most jobs one flush commits together; the rest wait for the next flush. It bounds how long one flush
 * holds the event loop and the write lock, and how much one failed COMMIT takes down with it.
 */
export const GROUP_COMMIT_MAX_JOBS = 64;

/**
 * The most jobs waiting for a flush. Past it the store is behind its writers: a new write is refused at
 * once as the store being unavailable (503, retryable), instead of queueing a wait that only grows.
 */
export const GROUP_COMMIT_MAX_QUEUED = 4096;

interface Queued {
  job: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit for one connection's API writes. Each create otherwise pays its own COMMIT, WAL frames and
 * checkpoint, and rewrites the same index interior pages, counter row and right-most leaves as its
 * neighbours; jobs queued in the same turn of the event loop share one transaction instead. Each job runs
 * in its own SAVEPOINT, in arrival order, so a job that throws undoes only its own writes and later jobs
 * see earlier ones, as if they had committed one by one. No job's promise settles before the COMMIT that
 * holds it: nothing is acknowledged before it is committed.
 */
export class WriteBatcher {
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly maxJobs: number = GROUP_COMMIT_MAX_JOBS,
    private readonly maxQueued: number = GROUP_COMMIT_MAX_QUEUED,
  ) {
    if (!Number.isInteger(maxJobs) || maxJobs < 1) throw new RangeError(`maxJobs must be >= 1: ${maxJobs}`);
    if (!Number.isInteger(maxQueued) || maxQueued < maxJobs) {
      throw new RangeError(`maxQueued must be >= maxJobs: ${maxQueued}`);
    }
  }

  /**
   * Queues a synchronous write; settles with its result or its own error once its batch has committed.
   * Refused at once (nothing written) while `maxQueued` jobs are already waiting.
   */
  run<T>(job: () => T): Promise<T> {
    if (this.queue.length >= this.maxQueued) return Promise.reject(new StoreUnavailableError());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ job, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /**
   * One synchronous call: no other statement runs on the connection between its BEGIN and COMMIT. Other
   * work (reads, the reconciler, unbatched writes) runs before or after it; a queued job is not answered
   * yet, so running after them is an order its caller could have seen anyway.
   */
  private flush(): void {
    const batch = this.queue.splice(0, this.maxJobs);
    // The rest go after the event loop has served I/O once, not in this same call.
    if (this.queue.length > 0) this.schedule();
    let outcomes: Outcome[];
    try {
      outcomes = this.commit(batch);
    } catch (error) {
      for (const q of batch) q.reject(error);
      return;
    }
    outcomes.forEach((o, i) => {
      const q = batch[i] as Queued;
      if (o.ok) q.resolve(o.value);
      else q.reject(o.error);
    });
  }

  /**
   * Jobs rarely throw (bodies are checked before a store is called), so a batch first runs without
   * savepoints, whose journal copies every page a job touches (14% of a batched create's CPU when every
   * job had one). If a job throws, or the COMMIT fails, that transaction is rolled back whole and the
   * batch runs again with a savepoint per job, which isolates the failure. Jobs only write to the store,
   * so running one again after a rollback is the same as running it once. A job alone needs no second
   * run: the rollback undid its writes and nothing else, so its failure is already its own.
   */
  private commit(batch: readonly Queued[]): Outcome[] {
    try {
      return this.transaction(() => batch.map(({ job }) => job())).map((value) => ({ ok: true, value }));
    } catch (error) {
      if (batch.length === 1) throw error;
    }
    return this.transaction(() =>
      batch.map(({ job }): Outcome => {
        try {
          // Nested in the open transaction, better-sqlite3 runs the job in a SAVEPOINT.
          return { ok: true, value: this.db.transaction(job)() };
        } catch (error) {
          // SQLite ended the whole transaction (disk full, I/O error): the earlier jobs' writes are gone too.
          if (!this.db.inTransaction) throw error;
          return { ok: false, error };
        }
      }),
    );
  }

  /**
   * Written out rather than db.transaction(): inside someone else's transaction that would turn into a
   * SAVEPOINT, and the jobs would be answered before anything is committed. IMMEDIATE takes the write
   * lock first (waiting busy_timeout), so a job that reads before it writes never fails to upgrade.
   */
  private transaction<T>(run: () => T): T {
    const { db } = this;
    prepared(db, 'BEGIN IMMEDIATE').run();
    try {
      const result = run();
      prepared(db, 'COMMIT').run();
      return result;
    } catch (error) {
      // A failed COMMIT (a deferred constraint, say) leaves the transaction open: nothing of it may stay.
      if (db.inTransaction) prepared(db, 'ROLLBACK').run();
      throw error;
    }
  }
}

const batchers = new WeakMap<Db, WriteBatcher>();

/** The connection's one batcher, shared by its stores so that one flush commits all their writes. */
export function writeBatcher(db: Db): WriteBatcher {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new WriteBatcher(db);
    batchers.set(db, batcher);
  }
  return batcher;
}
