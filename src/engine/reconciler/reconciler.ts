import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isStoreUnavailable } from '../../lib/outage.js';
import { timeOrderedIds } from '../../lib/ids.js';
import { BUILTIN_RESOURCE_TYPES } from '../../platform/resource-types/registry.js';
import { newReport, type Pass, type WorkContext } from './context.js';
import { processItem, processRecipients } from './items.js';
import { ReconcilerMetrics } from './metrics.js';
import type {
  ReconcileNowOptions,
  ReconcileNowResult,
  ReconcileReport,
  ReconcilerLogger,
  ReconcilerOptions,
} from './options.js';
import { workKey, type WorkItem } from './store.js';

export { ENTITLEMENT_ERROR } from './plan.js';
export type * from './options.js';

/** Claimed at once when every driver is in-process, worked in groups of `IN_PROCESS_GROUP`. */
const IN_PROCESS_BATCH = 2000;
const IN_PROCESS_GROUP = 100;
/** Groups worked at once on PostgreSQL (each holds a connection while it settles). */
const IN_PROCESS_LANES = 4;
/** Retries of one failing item within one `reconcileNow` call, after which it is left to its backoff. */
const NOW_RETRIES = 3;
const DEFAULT_MAX_STEPS = 100_000;

const silent: ReconcilerLogger = { info() {}, warn() {}, error() {} };

/**
 * Drives every recipient's association status toward its desired status by applying and removing
 * shared resources in recipient accounts, and finishes asynchronous deletes. All state is in the store:
 * any number of reconcilers may run, and a crash loses nothing (leases expire, work stays queued).
 *
 * This class schedules: the loop, its timers and outage pauses, leases, lanes and backoff. What one claimed
 * item needs is planned in `plan.ts` and `derive.ts`, delivered in `deliver.ts` and settled in `settle.ts`.
 */
export class Reconciler {
  readonly metrics: ReconcilerMetrics;
  private readonly context: WorkContext;
  private readonly workerId: string;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly outageBackoffBaseMs: number;
  private readonly outageBackoffCapMs: number;
  private readonly random: () => number;
  private readonly log: ReconcilerLogger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private again = false;
  private stopped = true;
  private pollMs = 250;
  private pauses = 0;
  private resumeAfterPause = false;
  private unwatchClock: (() => unknown) | undefined;
  /** Set by stop(): a pass in progress finishes its claimed batch and returns. */
  private stopping = false;
  private readonly batchListeners = new Set<() => void>();
  /** Numbers the lease owners of `reconcileNow` calls, so each call's leases are its own. */
  private nowCalls = 0;
  /** Set while the store is unavailable to the loop: since when (by the clock), and passes failed. */
  private outage: { since: number; passes: number } | undefined;

  constructor(private readonly options: ReconcilerOptions) {
    this.metrics = options.metrics ?? new ReconcilerMetrics(options.store.reconciler);
    this.workerId = options.workerId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.batchSize = options.batchSize ?? 200;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffCapMs = options.backoffCapMs ?? 60_000;
    this.outageBackoffBaseMs = options.outageBackoffBaseMs ?? 250;
    this.outageBackoffCapMs = options.outageBackoffCapMs ?? 5000;
    this.random = options.random ?? Math.random;
    this.log = options.logger ?? silent;
    this.context = {
      store: options.store,
      clock: options.clock,
      drivers: options.drivers,
      types: options.resourceTypes ?? BUILTIN_RESOURCE_TYPES,
      ids: options.ids ?? timeOrderedIds,
      metrics: this.metrics,
      log: this.log,
      concurrency: options.concurrency ?? 16,
      backoff: (attempts) => this.backoff(attempts),
    };
  }

  /** Exponential backoff with jitter: half the delay fixed, half random, capped. */
  backoff(attempts: number): number {
    return this.jittered(this.backoffBaseMs, this.backoffCapMs, attempts);
  }

  /** The loop's wait after `passes` consecutive passes failed on an unavailable store: like `backoff`. */
  outageBackoff(passes: number): number {
    return this.jittered(this.outageBackoffBaseMs, this.outageBackoffCapMs, Math.max(passes - 1, 0));
  }

  /** `baseMs` doubled `exponent` times, capped, half of it random jitter. */
  private jittered(baseMs: number, capMs: number, exponent: number): number {
    const delay = Math.min(capMs, baseMs * 2 ** Math.min(exponent, 30));
    return Math.round(delay / 2 + (delay / 2) * this.random());
  }

  /** Does all work that is due now, including work that this pass creates; returns what it did. */
  async reconcileOnce(): Promise<ReconcileReport> {
    const { store, clock } = this.options;
    const pass: Pass = { owner: this.workerId, report: newReport() };
    const claimSize = this.claimSize();
    for (;;) {
      if (this.stopping) return pass.report;
      const items = await store.reconciler.claim(this.workerId, clock.now(), this.leaseMs, claimSize);
      if (items.length === 0) return pass.report;
      await this.work(items, pass);
    }
  }

  /**
   * Runs the queue now, whatever the due times (delays and backoffs): claims until nothing is claimable
   * (items leased elsewhere stay with their holder), optionally only one share's work. An item that fails
   * retryably runs again within the call at most `NOW_RETRIES` times, then stays queued with its backoff,
   * so a delivery that keeps failing cannot hold the call forever. Independent of start()/stop(): its
   * leases are its own, so it may run beside the background loop.
   */
  async reconcileNow(options: ReconcileNowOptions = {}): Promise<ReconcileNowResult> {
    const { store, clock } = this.options;
    const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    const failures = new Map<string, number>();
    const skip: string[] = [];
    const pass: Pass = {
      owner: `${this.workerId}:now:${++this.nowCalls}`,
      report: newReport(),
      onRetry: (item) => {
        const key = workKey(item);
        const n = (failures.get(key) ?? 0) + 1;
        failures.set(key, n);
        if (n === NOW_RETRIES + 1) skip.push(key);
      },
    };
    const claimSize = this.claimSize();
    while (pass.report.processed < maxSteps) {
      const limit = Math.min(claimSize, maxSteps - pass.report.processed);
      const items = await store.reconciler.claim(pass.owner, clock.now(), this.leaseMs, limit, {
        ignoreDelays: true,
        shareId: options.shareId,
        skip: skip.length > 0 ? [...skip] : undefined,
      });
      if (items.length === 0) break;
      await this.work(items, pass);
    }
    return {
      processed: pass.report.processed,
      pending: await store.reconciler.pendingCount(options.shareId),
    };
  }

  /** Hears the end of every claimed batch worked (by the loop or `reconcileNow`); returns an unsubscribe. */
  onBatch(listener: () => void): () => void {
    this.batchListeners.add(listener);
    return () => this.batchListeners.delete(listener);
  }

  /**
   * In-process drivers: recipients are worked a whole group at a time (one context read, one driver
   * write, one settling transaction per group). Network drivers: one recipient per group, `concurrency`
   * groups at a time, so a slow receiver holds up one lane, not the batch.
   */
  private claimSize(): number {
    return this.options.drivers.inProcess === true
      ? Math.max(this.batchSize, IN_PROCESS_BATCH)
      : this.batchSize;
  }

  /** Works one claimed batch in lanes. */
  private async work(items: WorkItem[], pass: Pass): Promise<void> {
    const { store, drivers } = this.options;
    const inProcess = drivers.inProcess === true;
    const groups = groupItems(items, inProcess ? IN_PROCESS_GROUP : 1);
    let next = 0;
    // A lane that fails (the store went away) stops the others taking more groups, and the batch ends only
    // once every lane has, so no group of this pass is still running when the next pass starts.
    let failed = false;
    const lane = async () => {
      while (next < groups.length && !failed) {
        const group = groups[next++] as WorkItem[];
        try {
          if (group[0]?.kind === 'recipient') await processRecipients(this.context, group, pass);
          else await processItem(this.context, group[0] as WorkItem, pass);
        } catch (err) {
          failed = true;
          throw err;
        }
        // SQLite calls are synchronous: let HTTP requests (and health checks) in between groups.
        await yieldToEventLoop();
      }
    };
    const lanes = inProcess ? (store.kind === 'sqlite' ? 1 : IN_PROCESS_LANES) : this.context.concurrency;
    const settled = await Promise.allSettled(Array.from({ length: Math.min(lanes, groups.length) }, lane));
    const failure = settled.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
    for (const listener of this.batchListeners) listener();
  }

  /** Runs passes in the background: every `pollMs`, and at once after `notify()`. */
  start(pollMs = this.pollMs): void {
    this.pollMs = pollMs;
    this.stopped = false;
    // A clock moved by hand may have made delayed work or backoffs due: look at once.
    this.unwatchClock ??= this.options.clock.onChange?.(() => this.notify());
    this.stopping = false;
    const tick = () => {
      this.timer = undefined;
      if (this.stopped) return;
      this.running = this.reconcileOnce()
        .then(() => this.storeAvailable())
        .catch((err: unknown) => {
          if (isStoreUnavailable(err)) this.storeUnavailable(err);
          else this.log.error({ err }, 'reconcile pass failed');
        })
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          // While the store is out, a change notified meanwhile cannot be worked either: keep backing off.
          const delay = this.outage ? this.outageBackoff(this.outage.passes) : this.again ? 0 : pollMs;
          this.again = false;
          this.timer = setTimeout(tick, delay);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** One log line per outage, not per pass: the first failed pass pauses the loop, the next ones count. */
  private storeUnavailable(err: unknown): void {
    this.metrics.storeUp.set(0);
    this.metrics.storeErrors.inc();
    if (this.outage) {
      this.outage.passes++;
      return;
    }
    this.outage = { since: this.options.clock.now(), passes: 1 };
    this.log.warn({ err }, 'store unavailable; reconciler paused, retrying with backoff');
  }

  private storeAvailable(): void {
    this.metrics.storeUp.set(1);
    if (!this.outage) return;
    const { since, passes } = this.outage;
    this.outage = undefined;
    this.log.info(
      { outage_ms: Math.max(0, this.options.clock.now() - since), failed_passes: passes },
      'store available again; reconciler resumed',
    );
  }

  /** Asks for a pass as soon as possible (the API calls this after each change). */
  notify(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
    } else if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.start();
    }
  }

  /**
   * Runs `fn` with the background loop stopped (its pass in progress finished first) and then resumes
   * it, so a wholesale store change (reset, state import) never races a pass that read the old store.
   */
  async whilePaused<T>(fn: () => Promise<T>): Promise<T> {
    if (this.pauses++ === 0) {
      this.resumeAfterPause = !this.stopped;
      await this.stop();
    } else await this.running;
    try {
      return await fn();
    } finally {
      if (--this.pauses === 0 && this.resumeAfterPause) this.start();
    }
  }

  async stop(): Promise<void> {
    this.unwatchClock?.();
    this.unwatchClock = undefined;
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** Share and organization items one per group; recipient items `groupSize` at a time, in claim order. */
function groupItems(items: WorkItem[], groupSize: number): WorkItem[][] {
  const groups: WorkItem[][] = [];
  let recipients: WorkItem[] = [];
  for (const item of items) {
    if (item.kind !== 'recipient') groups.push([item]);
    else if (recipients.push(item) === groupSize) {
      groups.push(recipients);
      recipients = [];
    }
  }
  if (recipients.length > 0) groups.push(recipients);
  return groups;
}
