/** Time source, injected so tests can step time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** RFC 3339 UTC timestamp with microsecond precision, strictly increasing within a process. */
  timestamp(): string;
  /** For clocks moved by hand (the admin API's): hears every move; returns an unsubscribe. */
  onChange?(listener: () => void): () => void;
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

export interface ClockState {
  /** The clock's current time (RFC 3339). */
  now: string;
  frozen: boolean;
  /** How far the clock is from the machine's time, in milliseconds (0 unless set or advanced). */
  offset_ms: number;
}

/**
 * The one clock of a running server, steerable from the admin API: frozen (time stands still until
 * advanced), advanced, set to a given instant, or resumed (time flows again from where it stands).
 * Listeners hear every change, so a reconciler can look again for work that just became due.
 */
export class ControlledClock implements Clock {
  private offset = 0;
  private frozenAt: number | undefined;
  private inner: Clock;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly wall: () => number = () => Date.now()) {
    this.inner = clockFrom(() => this.now());
  }

  now(): number {
    return this.frozenAt ?? this.wall() + this.offset;
  }

  timestamp(): string {
    return this.inner.timestamp();
  }

  freeze(): void {
    this.frozenAt ??= this.now();
    this.changed();
  }

  /** Time flows again from where it stands (an advanced or set clock keeps its offset). */
  resume(): void {
    if (this.frozenAt !== undefined) this.offset = this.frozenAt - this.wall();
    this.frozenAt = undefined;
    this.changed();
  }

  advance(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.offset += ms;
    this.changed();
  }

  /**
   * Moves the clock to `ms`. Moving it back restarts the timestamp sequence there, so objects made
   * afterwards may sort before older ones, as on a machine whose clock was set back.
   */
  set(ms: number): void {
    const back = ms < this.now();
    if (this.frozenAt !== undefined) this.frozenAt = ms;
    else this.offset = ms - this.wall();
    if (back) this.inner = clockFrom(() => this.now());
    this.changed();
  }

  /** Back to the machine's time, flowing. */
  reset(): void {
    const back = this.offset > 0 || (this.frozenAt !== undefined && this.frozenAt > this.wall());
    this.offset = 0;
    this.frozenAt = undefined;
    if (back) this.inner = clockFrom(() => this.now());
    this.changed();
  }

  state(): ClockState {
    const now = this.now();
    return {
      now: formatMicros(now * 1000),
      frozen: this.frozenAt !== undefined,
      offset_ms: now - this.wall(),
    };
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
