import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError, RequestTimeoutError, ValidationError } from '../../http/errors.js';
import type { ClockState, ControlledClock } from '../../lib/clock.js';
import type { Reconciler } from '../../engine/reconciler/reconciler.js';
import { presentRecipients } from '../../cloudflare/recipients/service.js';
import {
  DEFAULT_WAIT_MS,
  type ClockBody,
  type ReconcileBody,
  type ReconcileResult,
  type WaitBody,
  type WaitResult,
} from './schemas.js';
import type { ReconcilerStore } from '../../engine/reconciler/store.js';
import type { RecipientsStore } from '../../cloudflare/recipients/store.js';
import type { SharesStore } from '../../cloudflare/shares/store.js';

/** The parts of the store this service uses (the server passes its whole store). */
export interface ControlServiceStore {
  readonly reconciler: ReconcilerStore;
  readonly recipients: RecipientsStore;
  readonly shares: SharesStore;
}

const SHARE_NOT_FOUND = 'Share not found';
/** How often a wait looks at the store (real time); a finished reconciler batch wakes it sooner. */
const POLL_MS = 20;
/** The clock stays within what RFC 3339 timestamps (four-digit years, after the epoch) can say. */
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const CLOCK_KEYS = ['freeze', 'advance_ms', 'set'] as const;

/** What the controls need of the reconciler. */
export type ControlledReconciler = Pick<Reconciler, 'reconcileNow' | 'onBatch'>;

/**
 * Test-suite controls: run the reconciler on demand, wait for a share to settle, steer the clock. Meant
 * for the admin API only (the caller holds the admin token).
 */
export class ControlService {
  constructor(
    private readonly store: ControlServiceStore,
    private readonly reconciler: ControlledReconciler,
    private readonly clock: ControlledClock,
  ) {}

  /** Runs queued work now, ignoring delays and backoffs, until none is left to claim. */
  async reconcile(body: ReconcileBody): Promise<ReconcileResult> {
    const shareId = body?.share_id;
    if (shareId !== undefined) await this.share(shareId);
    return this.reconciler.reconcileNow({ shareId, maxSteps: body?.max_steps });
  }

  /**
   * Answers once the share has no queued work for itself or its recipients: every recipient and
   * resource then stands associated, disassociated, deleted or failed for good (a retryable failure
   * keeps its work queued). The timeout is real time, so a frozen clock cannot make a wait hang.
   */
  async wait(body: WaitBody): Promise<WaitResult> {
    const timeoutMs = body.timeout_ms ?? DEFAULT_WAIT_MS;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const share = await this.share(body.share_id);
      if ((await this.store.reconciler.pendingCount(share.id)) === 0) {
        const rows = await this.store.recipients.all(share.id);
        return {
          share_id: share.id,
          status: share.status,
          recipients: await presentRecipients(this.store.recipients, rows, true),
        };
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new RequestTimeoutError(`Share ${share.id} did not settle within ${timeoutMs} ms`);
      await this.nextLook(Math.min(POLL_MS, left));
    }
  }

  clockState(): ClockState {
    return this.clock.state();
  }

  /** Applies exactly one of freeze, advance_ms or set. */
  setClock(body: ClockBody): ClockState {
    const given = CLOCK_KEYS.filter((k) => body[k] !== undefined);
    if (given.length !== 1) {
      throw new ValidationError(
        'Give exactly one of freeze, advance_ms or set',
        given.length === 0 ? '' : `/${given[1] as string}`,
      );
    }
    if (body.freeze === true) this.clock.freeze();
    else if (body.freeze === false) this.clock.resume();
    else if (body.advance_ms !== undefined) {
      if (this.clock.now() + body.advance_ms > LATEST_MS)
        throw new ValidationError('advance_ms would move the clock past the year 9999', '/advance_ms');
      this.clock.advance(body.advance_ms);
    } else {
      const ms = Date.parse(body.set as string);
      if (!(ms >= 0 && ms <= LATEST_MS))
        throw new ValidationError('set must be between 1970-01-01 and 9999-12-31', '/set');
      this.clock.set(ms);
    }
    // A running reconciler hears the move through the clock and looks for work that became due.
    return this.clock.state();
  }

  private async share(id: string) {
    const share = await this.store.shares.get(id);
    if (!share) throw new NotFoundError(SHARE_NOT_FOUND);
    return share;
  }

  /** Sleeps `ms` of real time, or less when the reconciler finishes a batch meanwhile. */
  private async nextLook(ms: number): Promise<void> {
    const abort = new AbortController();
    const off = this.reconciler.onBatch(() => abort.abort());
    try {
      await sleep(ms, undefined, { signal: abort.signal });
    } catch (err) {
      if (!abort.signal.aborted) throw err; // otherwise woken by a finished batch
    } finally {
      off();
    }
  }
}
