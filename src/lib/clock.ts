/** Time source, injected so tests can step time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** RFC 3339 UTC timestamp with microsecond precision, strictly increasing within a process. */
  timestamp(): string;
}

/** Formats epoch microseconds as `2023-09-21T18:56:32.624632Z`. */
export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2023-09-21T18:56:32.624Z
  const extra = String(micros % 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${extra}Z`;
}

/**
 * Builds timestamps from a millisecond source. Micro digits come from a counter so two writes in the
 * same millisecond still order correctly (list ordering relies on `created`).
 */
export function clockFrom(nowMs: () => number): Clock {
  let last = 0;
  return {
    now: nowMs,
    timestamp() {
      const micros = Math.max(nowMs() * 1000, last + 1);
      last = micros;
      return formatMicros(micros);
    },
  };
}

export const systemClock: Clock = clockFrom(() => Date.now());

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private readonly inner: Clock;
  constructor(private ms: number = Date.UTC(2026, 0, 1)) {
    this.inner = clockFrom(() => this.ms);
  }
  now(): number {
    return this.ms;
  }
  timestamp(): string {
    return this.inner.timestamp();
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
