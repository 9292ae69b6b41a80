import type { FastifyBaseLogger } from 'fastify';
import { isStoreUnavailable } from '../../lib/outage.js';
import { formatMicros, type Clock } from '../../lib/clock.js';
import type { AuditStore } from './store.js';

/** Cloudflare keeps audit logs for 18 months. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 548;

const DAY_MS = 86_400_000;
/** Rows per delete, so pruning a long backlog never holds a lock for long. */
const BATCH = 5_000;

/** Deletes audit entries older than the retention, run by worker nodes now and then. */
export class AuditPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
    private readonly retentionDays: number,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /** Deletes every entry older than the retention; returns how many went. */
  async pruneOnce(): Promise<number> {
    const before = formatMicros((this.clock.now() - this.retentionDays * DAY_MS) * 1000);
    let total = 0;
    for (;;) {
      const n = await this.store.prune(before, BATCH);
      total += n;
      if (n < BATCH) return total;
    }
  }

  /** Prunes at once and then every `intervalMs`; a failed pass is logged and tried again next time. */
  start(intervalMs = 3_600_000): void {
    const run = () => {
      this.running = this.pruneOnce()
        .then((n) => {
          if (n > 0) this.log?.info({ pruned: n, retention_days: this.retentionDays }, 'audit logs pruned');
          return n;
        })
        .catch((err: unknown) => {
          // An outage is the reconciler's to report; pruning simply tries again next time.
          if (isStoreUnavailable(err))
            this.log?.warn({ err }, 'audit log pruning skipped: store unavailable');
          else this.log?.error({ err }, 'audit log pruning failed');
          return 0;
        });
    };
    run();
    this.timer = setInterval(run, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
