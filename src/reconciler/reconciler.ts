import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Store } from '../db/store.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { AccountRow } from '../tenancy/store.js';
import type { DeliveryDriver, DriverRegistry, DeliveryOutcome, Delivery } from './drivers/types.js';
import { ReconcilerMetrics } from './metrics.js';
import type { DeliveryState, RecipientContext, WorkItem } from './store.js';
import { assertTransition, recipientStatus } from './transitions.js';

export const ENTITLEMENT_ERROR = 'Recipient is missing necessary entitlement';

export interface ReconcilerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReconcilerOptions {
  store: Store;
  clock: Clock;
  drivers: DriverRegistry;
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

interface Outcome {
  /** Set when a retryable failure means the item must run again after a backoff. */
  retry?: string;
  /** Whether the share may now be finalised (it or one of its resources is being deleted). */
  finalizeShare?: string;
}

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
  private readonly random: () => number;
  private readonly log: ReconcilerLogger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private again = false;
  private stopped = true;
  /** Set by stop(): a pass in progress finishes its claimed batch and returns. */
  private stopping = false;

  constructor(private readonly options: ReconcilerOptions) {
    this.metrics = options.metrics ?? new ReconcilerMetrics(options.store.reconciler);
    this.workerId = options.workerId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.batchSize = options.batchSize ?? 200;
    this.concurrency = options.concurrency ?? 16;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffCapMs = options.backoffCapMs ?? 60_000;
    this.random = options.random ?? Math.random;
    this.log = options.logger ?? silent;
  }

  /** Exponential backoff with jitter: half the delay fixed, half random, capped. */
  backoff(attempts: number): number {
    const delay = Math.min(this.backoffCapMs, this.backoffBaseMs * 2 ** Math.min(attempts, 30));
    return Math.round(delay / 2 + (delay / 2) * this.random());
  }

  /** Does all work that is due now, including work that this pass creates; returns what it did. */
  async reconcileOnce(): Promise<ReconcileReport> {
    const report: ReconcileReport = { processed: 0, retried: 0, transitions: [] };
    for (;;) {
      if (this.stopping) return report;
      const { store, clock } = this.options;
      const items = await store.reconciler.claim(this.workerId, clock.now(), this.leaseMs, this.batchSize);
      if (items.length === 0) return report;
      let next = 0;
      const lane = async () => {
        while (next < items.length) {
          await this.process(items[next++] as WorkItem, report);
          // SQLite calls are synchronous: let HTTP requests (and health checks) in between items.
          await yieldToEventLoop();
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, lane));
    }
  }

  /** Runs passes in the background: every `pollMs`, and at once after `notify()`. */
  start(pollMs = 250): void {
    this.stopped = false;
    this.stopping = false;
    const tick = () => {
      this.timer = undefined;
      if (this.stopped) return;
      this.running = this.reconcileOnce()
        .catch((err: unknown) => this.log.error({ err }, 'reconcile pass failed'))
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          const delay = this.again ? 0 : pollMs;
          this.again = false;
          this.timer = setTimeout(tick, delay);
        });
    };
    this.timer = setTimeout(tick, 0);
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

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async process(item: WorkItem, report: ReconcileReport): Promise<void> {
    const { store, clock } = this.options;
    let outcome: Outcome = {};
    try {
      if (item.kind === 'recipient') outcome = await this.reconcileRecipient(item.id, report);
      else if (item.kind === 'share') await this.finalizeShare(item.id, report);
      else await this.syncOrganization(item.id);
    } catch (err) {
      this.log.error({ err, kind: item.kind, id: item.id }, 'reconcile item failed');
      this.metrics.items.inc({ kind: item.kind, outcome: 'error' });
      outcome = { retry: err instanceof Error ? err.message : String(err) };
    }
    report.processed++;
    if (outcome.retry !== undefined) {
      report.retried++;
      this.metrics.items.inc({ kind: item.kind, outcome: 'retry' });
      await store.reconciler.retry(
        this.workerId,
        item,
        clock.now() + this.backoff(item.attempts),
        outcome.retry,
      );
      return;
    }
    this.metrics.items.inc({ kind: item.kind, outcome: 'done' });
    await store.reconciler.complete(this.workerId, item);
    // Queued only after this item is retired, so the share pass sees no pending recipient work of ours.
    if (outcome.finalizeShare) await store.reconciler.enqueue('share', outcome.finalizeShare);
  }

  private async reconcileRecipient(recipientId: string, report: ReconcileReport): Promise<Outcome> {
    const ctx = await this.options.store.reconciler.recipientContext(recipientId);
    if (!ctx) return {};
    const { recipient, share, resources } = ctx;
    const holds = recipient.desired_status === 'associated' && share.status === 'active';
    let retry: string | undefined;
    for (const resource of resources) {
      const wanted = holds && resource.status === 'active';
      const failure = wanted
        ? await this.ensureApplied(ctx, resource.id)
        : await this.ensureRemoved(ctx, resource.id);
      retry ??= failure;
    }
    const to = recipientStatus(recipient.desired_status, retry === undefined);
    if (to !== recipient.status) {
      assertTransition('recipient', recipient.status, to);
      if (
        await this.options.store.reconciler.setRecipientStatus(recipient, to, this.options.clock.timestamp())
      ) {
        this.transition(report, { entity: 'recipient', id: recipient.id, from: recipient.status, to });
      }
    }
    const finalize = share.status === 'deleting' || resources.some((r) => r.status !== 'active');
    return { retry, finalizeShare: finalize ? share.id : undefined };
  }

  /** Applies one resource at its current version; returns an error to retry on, if any. */
  private async ensureApplied(ctx: RecipientContext, resourceId: string): Promise<string | undefined> {
    const resource = ctx.resources.find((r) => r.id === resourceId);
    if (!resource) return undefined;
    const state = ctx.delivered.get(resource.id);
    const version = resource.resource_version;
    const allowed = entitled(ctx.account, resource.resource_type);
    if (allowed && state?.applied_version === version && state.error === '') return undefined;
    // A terminal failure at this version stays settled until the resource or the entitlements change.
    if (state?.terminal && state.error_version === version) return undefined;
    if (!allowed) {
      if (state?.applied_version != null) {
        const removal = await this.deliver(ctx, resource.id, 'remove');
        if (!removal.ok && !removal.terminal)
          return this.record(ctx, resource.id, { ...keep(state), error: removal.error });
      }
      await this.record(ctx, resource.id, {
        applied_version: null,
        error: ENTITLEMENT_ERROR,
        terminal: true,
        error_version: version,
      });
      return undefined;
    }
    const result = await this.deliver(ctx, resource.id, 'apply');
    if (result.ok) {
      await this.record(ctx, resource.id, {
        applied_version: version,
        error: '',
        terminal: false,
        error_version: null,
      });
      return undefined;
    }
    const applied = state?.applied_version ?? null;
    if (result.terminal) {
      await this.record(ctx, resource.id, {
        applied_version: applied,
        error: result.error,
        terminal: true,
        error_version: version,
      });
      return undefined;
    }
    return this.record(ctx, resource.id, {
      applied_version: applied,
      error: result.error,
      terminal: false,
      error_version: null,
    });
  }

  /** Removes one resource from the recipient account; returns an error to retry on, if any. */
  private async ensureRemoved(ctx: RecipientContext, resourceId: string): Promise<string | undefined> {
    const state = ctx.delivered.get(resourceId);
    if (!state) return undefined;
    // Nothing applied and no apply in doubt: forget the row. After a timeout or 5xx the receiver may hold
    // the resource anyway, so then a removal is sent like for an applied version.
    if (state.applied_version === null && (state.terminal || state.error === '')) {
      await this.options.store.reconciler.recordDelivery(
        ctx.recipient.id,
        resourceId,
        null,
        this.options.clock.timestamp(),
      );
      return undefined;
    }
    const result = await this.deliver(ctx, resourceId, 'remove');
    if (result.ok) {
      await this.options.store.reconciler.recordDelivery(
        ctx.recipient.id,
        resourceId,
        null,
        this.options.clock.timestamp(),
      );
      return undefined;
    }
    if (result.terminal) {
      // The receiver refuses the removal for good: stop holding the delivery open, keep the reason visible.
      await this.record(ctx, resourceId, {
        applied_version: null,
        error: `Removal refused: ${result.error}`,
        terminal: true,
        error_version: null, // a refused removal must not block applying again if the recipient is re-added
      });
      return undefined;
    }
    return this.record(ctx, resourceId, { ...keep(state), error: result.error });
  }

  private async deliver(
    ctx: RecipientContext,
    resourceId: string,
    action: Delivery['action'],
  ): Promise<DeliveryOutcome> {
    const resource = ctx.resources.find((r) => r.id === resourceId);
    if (!resource) return { ok: true };
    const driver: DeliveryDriver = this.options.drivers.for(resource.resource_type);
    const result = await driver.deliver({
      action,
      share_id: ctx.share.id,
      recipient_id: ctx.recipient.id,
      recipient_account_id: ctx.recipient.account_id,
      association: ctx.recipient.modified,
      resource,
    });
    const outcome = result.ok ? 'ok' : result.terminal ? 'terminal' : 'retryable';
    this.metrics.deliveries.inc({ driver: driver.name, action, outcome });
    if (!result.ok) {
      this.log.warn(
        { recipient: ctx.recipient.id, resource: resourceId, action, error: result.error, outcome },
        'delivery failed',
      );
    }
    return result;
  }

  /** Records delivery state; returns the error when it is one to retry on. */
  private async record(
    ctx: RecipientContext,
    resourceId: string,
    state: Omit<DeliveryState, 'share_resource_id'>,
  ): Promise<string | undefined> {
    await this.options.store.reconciler.recordDelivery(
      ctx.recipient.id,
      resourceId,
      state,
      this.options.clock.timestamp(),
    );
    return state.error !== '' && !state.terminal ? state.error : undefined;
  }

  private async finalizeShare(shareId: string, report: ReconcileReport): Promise<void> {
    const share = await this.options.store.shares.get(shareId);
    const done = await this.options.store.reconciler.finalizeShare(shareId, this.options.clock.timestamp());
    for (const id of done.deletedResources) {
      this.transition(report, { entity: 'resource', id, from: 'deleting', to: 'deleted' });
    }
    if (done.shareDeleted && share)
      this.transition(report, { entity: 'share', id: shareId, from: share.status, to: 'deleted' });
  }

  private async syncOrganization(organizationId: string): Promise<void> {
    const changed = await this.options.store.reconciler.syncOrganization(
      organizationId,
      this.options.clock.timestamp(),
      newId,
    );
    if (changed > 0)
      this.log.info({ organization: organizationId, changed }, 'organization recipients re-derived');
  }

  private transition(report: ReconcileReport, t: TransitionRecord): void {
    report.transitions.push(t);
    this.metrics.transitions.inc({ entity: t.entity, from: t.from, to: t.to });
  }
}

function entitled(account: AccountRow, type: string): boolean {
  return account.entitlements === null || (account.entitlements as string[]).includes(type);
}

function keep(state: DeliveryState): Omit<DeliveryState, 'share_resource_id'> {
  return {
    applied_version: state.applied_version,
    error: state.error,
    terminal: false,
    error_version: null,
  };
}
