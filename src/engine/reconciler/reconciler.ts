import type { AuditEntry } from '../../platform/audit/entry.js';
import { deliveryEntries, finalizeEntries, moveEntries, ownerLeftEntries } from './audit.js';
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isStoreUnavailable } from '../../lib/outage.js';
import type { Clock } from '../../lib/clock.js';
import { randomIds, type IdSource } from '../../lib/ids.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import type { DeliveryDriver, DriverRegistry, DeliveryOutcome, Delivery } from './drivers/types.js';
import { ReconcilerMetrics } from './metrics.js';
import {
  workKey,
  type DeliveryState,
  type RecipientContext,
  type RecipientResult,
  type WorkItem,
} from './store.js';
import type { ResourceRow } from '../../cloudflare/resources/store.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import { assertTransition, recipientStatus } from './transitions.js';
import type { ReconcilerStore } from './store.js';
import type { SharesStore } from '../../cloudflare/shares/store.js';

/** The parts of the store this service uses (the server passes its whole store). */
export interface ReconcilerStores {
  readonly kind: 'sqlite' | 'postgres';
  readonly reconciler: ReconcilerStore;
  readonly shares: SharesStore;
}

export const ENTITLEMENT_ERROR = 'Recipient is missing necessary entitlement';

export interface ReconcilerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReconcilerOptions {
  store: ReconcilerStores;
  clock: Clock;
  drivers: DriverRegistry;
  /** The server's resource types: which entitlement each needs (default: Cloudflare's, each itself). */
  resourceTypes?: ResourceTypeRegistry;
  /** Source of ids for recipients the reconciler creates (organization-targeted shares). */
  ids?: IdSource;
  metrics?: ReconcilerMetrics;
  logger?: ReconcilerLogger;
  /** Identifies this worker's leases; unique per process by default. */
  workerId?: string;
  /** How long a claimed item stays leased; a worker that dies loses its items after this. */
  leaseMs?: number;
  batchSize?: number;
  /** Items processed at once (matters for network drivers). */
  concurrency?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** The loop's first wait after a pass finds the store unavailable; doubles per failed pass. */
  outageBackoffBaseMs?: number;
  /** The loop's longest wait between passes while the store stays unavailable. */
  outageBackoffCapMs?: number;
  /** Source of jitter, injectable for tests. */
  random?: () => number;
}

export interface TransitionRecord {
  entity: 'recipient' | 'resource' | 'share';
  id: string;
  from: string;
  to: string;
}

export interface ReconcileReport {
  processed: number;
  retried: number;
  transitions: TransitionRecord[];
}

export interface ReconcileNowOptions {
  /** Only this share's own item and its recipients' items. */
  shareId?: string;
  /** At most this many items processed (each retry counts); default 100000. */
  maxSteps?: number;
}

export interface ReconcileNowResult {
  /** Items processed, retries included. */
  processed: number;
  /** Items still queued afterwards (only the share's, with `shareId`). */
  pending: number;
}

/** One run over claimed batches: whose leases they are, and where what happens is recorded. */
interface Pass {
  owner: string;
  report: ReconcileReport;
  /** Hears of every item released to run again after a retryable failure. */
  onRetry?: (item: WorkItem) => void;
}

/** What a step leaves behind: a delivery state to write (`null` clears it), and an error to retry on. */
interface Settled {
  write?: Omit<DeliveryState, 'share_resource_id'> | null;
  retry?: string;
}

/** One resource of one recipient: the delivery to make, if any, and what its outcome leaves behind. */
interface Step {
  ctx: RecipientContext;
  resource: ResourceRow;
  action?: Delivery['action'];
  /** Given the delivery's outcome (undefined when the step makes none). */
  settle(result: DeliveryOutcome | undefined): Settled;
}

/** Claimed at once when every driver is in-process, worked in groups of `IN_PROCESS_GROUP`. */
const IN_PROCESS_BATCH = 2000;
const IN_PROCESS_GROUP = 100;
/** Groups worked at once on PostgreSQL (each holds a connection while it settles). */
const IN_PROCESS_LANES = 4;
/** New recipients an organization-targeted share gets per transaction. */
const DERIVE_CHUNK = 2000;
/** Retries of one failing item within one `reconcileNow` call, after which it is left to its backoff. */
const NOW_RETRIES = 3;
const DEFAULT_MAX_STEPS = 100_000;

const silent: ReconcilerLogger = { info() {}, warn() {}, error() {} };

/**
 * Drives every recipient's association status toward its desired status by applying and removing
 * shared resources in recipient accounts, and finishes asynchronous deletes. All state is in the store:
 * any number of reconcilers may run, and a crash loses nothing (leases expire, work stays queued).
 */
export class Reconciler {
  readonly metrics: ReconcilerMetrics;
  private readonly workerId: string;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly outageBackoffBaseMs: number;
  private readonly outageBackoffCapMs: number;
  private readonly random: () => number;
  private readonly log: ReconcilerLogger;
  private readonly ids: IdSource;
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

  private readonly types: ResourceTypeRegistry;

  constructor(private readonly options: ReconcilerOptions) {
    this.metrics = options.metrics ?? new ReconcilerMetrics(options.store.reconciler);
    this.workerId = options.workerId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.batchSize = options.batchSize ?? 200;
    this.concurrency = options.concurrency ?? 16;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffCapMs = options.backoffCapMs ?? 60_000;
    this.outageBackoffBaseMs = options.outageBackoffBaseMs ?? 250;
    this.outageBackoffCapMs = options.outageBackoffCapMs ?? 5000;
    this.random = options.random ?? Math.random;
    this.log = options.logger ?? silent;
    this.ids = options.ids ?? randomIds;
    this.types = options.resourceTypes ?? BUILTIN_RESOURCE_TYPES;
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

  /** Works one claimed batch. */
  private async work(items: WorkItem[], pass: Pass): Promise<void> {
    const { store, drivers } = this.options;
    const inProcess = drivers.inProcess === true;
    const groupSize = inProcess ? IN_PROCESS_GROUP : 1;
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
    let next = 0;
    // A lane that fails (the store went away) stops the others taking more groups, and the batch ends only
    // once every lane has, so no group of this pass is still running when the next pass starts.
    let failed = false;
    const lane = async () => {
      while (next < groups.length && !failed) {
        const group = groups[next++] as WorkItem[];
        try {
          if (group[0]?.kind === 'recipient') await this.processRecipients(group, pass);
          else await this.process(group[0] as WorkItem, pass);
        } catch (err) {
          failed = true;
          throw err;
        }
        // SQLite calls are synchronous: let HTTP requests (and health checks) in between groups.
        await yieldToEventLoop();
      }
    };
    const lanes = inProcess ? (store.kind === 'sqlite' ? 1 : IN_PROCESS_LANES) : this.concurrency;
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

  /** A 'share' or 'organization' item. */
  private async process(item: WorkItem, pass: Pass): Promise<void> {
    const { store, clock } = this.options;
    const { report } = pass;
    let retry: string | undefined;
    try {
      if (item.kind === 'share') await this.convergeShare(item.id, report);
      else await this.syncOrganization(item.id);
    } catch (err) {
      // The store is gone: recording a retry would fail too. The pass ends; the lease lets go of the item.
      if (isStoreUnavailable(err)) throw err;
      this.log.error({ err, kind: item.kind, id: item.id }, 'reconcile item failed');
      this.metrics.items.inc({ kind: item.kind, outcome: 'error' });
      retry = err instanceof Error ? err.message : String(err);
    }
    report.processed++;
    if (retry !== undefined) {
      report.retried++;
      this.metrics.items.inc({ kind: item.kind, outcome: 'retry' });
      await store.reconciler.retry(pass.owner, item, clock.now() + this.backoff(item.attempts), retry);
      pass.onRetry?.(item);
      return;
    }
    this.metrics.items.inc({ kind: item.kind, outcome: 'done' });
    await store.reconciler.complete(pass.owner, item);
  }

  /**
   * Converges a group of recipient items: reads their contexts at once, works out every delivery they
   * need, hands them to the drivers (in-process drivers take the whole group in one call), and settles
   * the resulting delivery states, status moves and item completions in one store transaction.
   */
  private async processRecipients(items: WorkItem[], pass: Pass): Promise<void> {
    const { store, clock } = this.options;
    const { report } = pass;
    let contexts: Map<string, RecipientContext>;
    try {
      contexts = await store.reconciler.recipientContexts(items.map((i) => i.id));
    } catch (err) {
      await this.failRecipients(items, err, pass);
      return;
    }
    const plans = items.map((item) => {
      const ctx = contexts.get(item.id);
      return { item, ctx, steps: ctx ? this.plan(ctx) : [] };
    });
    const steps = plans.flatMap((p) => p.steps);
    let outcomes: (DeliveryOutcome | undefined)[];
    try {
      // Written before delivering, so a kill between delivery and settle cannot leave a delivery unrecorded:
      // an apply to an account that held nothing, or any removal (a removal recorded as "applied" would
      // look settled to a later apply, which would then skip an account that no longer holds it).
      await store.reconciler.recordInDoubt(
        steps.flatMap((s) =>
          s.action === 'remove' || (s.action === 'apply' && !mayHold(s.ctx.delivered.get(s.resource.id)))
            ? [{ recipientId: s.ctx.recipient.id, shareResourceId: s.resource.id }]
            : [],
        ),
        clock.timestamp(),
      );
      outcomes = await this.deliverAll(steps);
    } catch (err) {
      await this.failRecipients(items, err, pass);
      return;
    }
    const outcomeOf = new Map(steps.map((step, i) => [step, outcomes[i]]));
    const results: RecipientResult[] = [];
    const finalize = new Set<string>();
    for (const { item, ctx, steps: own } of plans) {
      if (!ctx) {
        results.push({ item, writes: [] });
        continue;
      }
      const audit: AuditEntry[] = [];
      const result: RecipientResult = { item, recipient: ctx.recipient, writes: [], audit };
      const time = clock.timestamp();
      let retry: string | undefined;
      for (const step of own) {
        const settled = step.settle(outcomeOf.get(step));
        if (settled.write !== undefined) {
          result.writes.push({ shareResourceId: step.resource.id, state: settled.write });
          audit.push(...deliveryEntries(ctx, step.resource, settled.write, time));
        }
        retry ??= settled.retry;
      }
      const to = recipientStatus(ctx.recipient.desired_status, retry === undefined);
      if (to !== ctx.recipient.status) {
        assertTransition('recipient', ctx.recipient.status, to);
        result.status = to;
        // Only the settled statuses: the moves back toward work are the API's, recorded with the request.
        if (to === 'associated' || to === 'disassociated') result.moveAudit = moveEntries(ctx, to, time);
      }
      if (retry !== undefined)
        result.retry = { dueAt: clock.now() + this.backoff(item.attempts), error: retry };
      results.push(result);
      if (ctx.share.status === 'deleting' || ctx.resources.some((r) => r.status !== 'active'))
        finalize.add(ctx.share.id);
    }
    let moved: Set<string>;
    try {
      moved = await store.reconciler.settleRecipients(pass.owner, results, clock.timestamp());
    } catch (err) {
      await this.failRecipients(items, err, pass);
      return;
    }
    for (const r of results) {
      report.processed++;
      if (r.retry) {
        report.retried++;
        this.metrics.items.inc({ kind: 'recipient', outcome: 'retry' });
        pass.onRetry?.(r.item);
      } else this.metrics.items.inc({ kind: 'recipient', outcome: 'done' });
      if (r.recipient && r.status && moved.has(r.recipient.id)) {
        this.transition(report, {
          entity: 'recipient',
          id: r.recipient.id,
          from: r.recipient.status,
          to: r.status,
        });
      }
    }
    // Queued only after the items are retired, so the share pass sees no pending recipient work of ours.
    for (const shareId of finalize) await store.reconciler.enqueue('share', shareId);
  }

  /** Every item of a group whose reads or writes failed goes back to the queue after a backoff. */
  private async failRecipients(items: WorkItem[], err: unknown, pass: Pass): Promise<void> {
    const { store, clock } = this.options;
    const { report } = pass;
    if (isStoreUnavailable(err)) throw err;
    this.log.error({ err, kind: 'recipient', items: items.length }, 'reconcile item failed');
    const error = err instanceof Error ? err.message : String(err);
    for (const item of items) {
      this.metrics.items.inc({ kind: 'recipient', outcome: 'error' });
      this.metrics.items.inc({ kind: 'recipient', outcome: 'retry' });
      report.processed++;
      report.retried++;
      await store.reconciler.retry(pass.owner, item, clock.now() + this.backoff(item.attempts), error);
      pass.onRetry?.(item);
    }
  }

  /** The steps that converge one recipient: one per resource that needs a delivery or a state write. */
  private plan(ctx: RecipientContext): Step[] {
    const { recipient, share, resources } = ctx;
    const holds = recipient.desired_status === 'associated' && share.status === 'active';
    const steps: Step[] = [];
    for (const resource of resources) {
      const step =
        holds && resource.status === 'active'
          ? this.planApply(ctx, resource)
          : this.planRemove(ctx, resource);
      if (step) steps.push(step);
    }
    return steps;
  }

  /** Applies one resource at its current version. */
  private planApply(ctx: RecipientContext, resource: ResourceRow): Step | undefined {
    const state = ctx.delivered.get(resource.id);
    const version = resource.resource_version;
    const allowed = entitled(ctx.account, this.types.entitlementOf(resource.resource_type));
    if (allowed && state?.applied_version === version && state.error === '') return undefined;
    // A terminal failure at this version stays settled until the resource or the entitlements change.
    if (state?.terminal && state.error_version === version) return undefined;
    if (!allowed) {
      const missing: Settled = {
        write: { applied_version: null, error: ENTITLEMENT_ERROR, terminal: true, error_version: version },
      };
      if (!state || !mayHold(state)) return { ctx, resource, settle: () => missing };
      return {
        ctx,
        resource,
        action: 'remove',
        settle: (r) => (r && !r.ok && !r.terminal ? retryable({ ...keep(state), error: r.error }) : missing),
      };
    }
    const applied = state?.applied_version ?? null;
    return {
      ctx,
      resource,
      action: 'apply',
      settle: (r) => {
        if (!r || r.ok)
          return { write: { applied_version: version, error: '', terminal: false, error_version: null } };
        if (r.terminal)
          return {
            write: { applied_version: applied, error: r.error, terminal: true, error_version: version },
          };
        return retryable({ applied_version: applied, error: r.error, terminal: false, error_version: null });
      },
    };
  }

  /** Removes one resource from the recipient account. */
  private planRemove(ctx: RecipientContext, resource: ResourceRow): Step | undefined {
    const state = ctx.delivered.get(resource.id);
    if (!state) return undefined;
    // Nothing applied and no apply in doubt: forget the row.
    if (!mayHold(state)) return { ctx, resource, settle: () => ({ write: null }) };
    return {
      ctx,
      resource,
      action: 'remove',
      settle: (r) => {
        if (!r || r.ok) return { write: null };
        // The receiver refuses the removal for good: stop holding the delivery open, keep the reason visible.
        if (r.terminal)
          return {
            write: {
              applied_version: null,
              error: `Removal refused: ${r.error}`,
              terminal: true,
              error_version: null, // a refused removal must not block applying again if the recipient is re-added
            },
          };
        return retryable({ ...keep(state), error: r.error });
      },
    };
  }

  /**
   * Runs the deliveries of the steps: batched per driver where the driver takes batches, otherwise one
   * call each, `concurrency` at a time. Outcomes in step order (undefined for steps with no delivery).
   */
  private async deliverAll(steps: Step[]): Promise<(DeliveryOutcome | undefined)[]> {
    const outcomes: (DeliveryOutcome | undefined)[] = steps.map(() => undefined);
    const batches = new Map<DeliveryDriver, number[]>();
    const single: number[] = [];
    steps.forEach((step, i) => {
      if (!step.action) return;
      const driver = this.options.drivers.for(step.resource.resource_type);
      if (driver.deliverMany) {
        let list = batches.get(driver);
        if (!list) batches.set(driver, (list = []));
        list.push(i);
      } else single.push(i);
    });
    const delivery = (step: Step): Delivery => ({
      action: step.action as Delivery['action'],
      share_id: step.ctx.share.id,
      recipient_id: step.ctx.recipient.id,
      recipient_account_id: step.ctx.recipient.account_id,
      association: step.ctx.recipient.modified,
      resource: step.resource,
    });
    const note = (driver: DeliveryDriver, i: number, result: DeliveryOutcome) => {
      const step = steps[i] as Step;
      outcomes[i] = result;
      const outcome = result.ok ? 'ok' : result.terminal ? 'terminal' : 'retryable';
      this.metrics.deliveries.inc({ driver: driver.name, action: step.action, outcome });
      if (!result.ok) {
        this.log.warn(
          {
            recipient: step.ctx.recipient.id,
            resource: step.resource.id,
            action: step.action,
            error: result.error,
            outcome,
          },
          'delivery failed',
        );
      }
    };
    for (const [driver, indexes] of batches) {
      const results = await (driver.deliverMany as NonNullable<DeliveryDriver['deliverMany']>)(
        indexes.map((i) => delivery(steps[i] as Step)),
      );
      indexes.forEach((i, k) => note(driver, i, results[k] as DeliveryOutcome));
    }
    let next = 0;
    const lane = async () => {
      while (next < single.length) {
        const i = single[next++] as number;
        const step = steps[i] as Step;
        const driver = this.options.drivers.for(step.resource.resource_type);
        note(driver, i, await driver.deliver(delivery(step)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, single.length) }, lane));
    return outcomes;
  }

  /**
   * A 'share' item: an active organization-targeted share first gets a recipient for every member that
   * has none (the fan-out of a new share happens here, not in the API request), a chunk per transaction;
   * then `deleting` resources and a `deleting` share are finalised once nothing of theirs is pending.
   */
  private async convergeShare(shareId: string, report: ReconcileReport): Promise<void> {
    let changed = 0;
    for (;;) {
      const step = await this.options.store.reconciler.deriveShareRecipients(
        shareId,
        this.options.clock.timestamp(),
        () => this.ids.next(),
        DERIVE_CHUNK,
      );
      changed += step.changed;
      if (!step.more) break;
      await yieldToEventLoop();
    }
    if (changed > 0) this.log.info({ share: shareId, changed }, 'share recipients derived');
    await this.finalizeShare(shareId, report);
  }

  private async finalizeShare(shareId: string, report: ReconcileReport): Promise<void> {
    const share = await this.options.store.shares.get(shareId);
    const time = this.options.clock.timestamp();
    const done = await this.options.store.reconciler.finalizeShare(shareId, time, (finalized) =>
      share ? finalizeEntries(share, finalized, time) : [],
    );
    for (const id of done.deletedResources) {
      this.transition(report, { entity: 'resource', id, from: 'deleting', to: 'deleted' });
    }
    if (done.shareDeleted && share)
      this.transition(report, { entity: 'share', id: shareId, from: share.status, to: 'deleted' });
  }

  private async syncOrganization(organizationId: string): Promise<void> {
    const time = this.options.clock.timestamp();
    const changed = await this.options.store.reconciler.syncOrganization(
      organizationId,
      time,
      () => this.ids.next(),
      (abandoned) => ownerLeftEntries(abandoned, time),
    );
    if (changed > 0)
      this.log.info({ organization: organizationId, changed }, 'organization recipients re-derived');
  }

  private transition(report: ReconcileReport, t: TransitionRecord): void {
    report.transitions.push(t);
    this.metrics.transitions.inc({ entity: t.entity, from: t.from, to: t.to });
  }
}

function newReport(): ReconcileReport {
  return { processed: 0, retried: 0, transitions: [] };
}

function entitled(account: AccountRow, entitlement: string): boolean {
  return account.entitlements === null || (account.entitlements as string[]).includes(entitlement);
}

function retryable(state: Omit<DeliveryState, 'share_resource_id'>): Settled {
  return { write: state, retry: state.error };
}

function keep(state: DeliveryState): Omit<DeliveryState, 'share_resource_id'> {
  return {
    applied_version: state.applied_version,
    error: state.error,
    terminal: false,
    error_version: null,
  };
}

/**
 * Whether the account may hold the resource: a version was applied, or an apply is in doubt (a timeout,
 * a 5xx, or a process killed mid-delivery), after which the receiver may hold it anyway.
 */
function mayHold(state: Omit<DeliveryState, 'share_resource_id'> | undefined): boolean {
  if (!state) return false;
  return state.applied_version !== null || (!state.terminal && state.error !== '');
}
