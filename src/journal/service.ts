import { ValidationError } from '../http/errors.js';
import type { Clock } from '../lib/clock.js';
import { apiPath, compileGlob, globError } from '../faults/paths.js';
import { DEFAULT_JOURNAL_SIZE, type JournalEntry, type JournalQuery } from './schemas.js';

interface Stored {
  entry: JournalEntry;
  /** `entry.time` in epoch microseconds, for `since`. */
  at: number;
}

/** Epoch microseconds of an RFC 3339 timestamp, fractional digits beyond milliseconds included. */
export function epochMicros(timestamp: string): number {
  const m = /^(.+?[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(timestamp);
  if (!m) return Date.parse(timestamp) * 1000;
  const [, head = '', fraction = '', zone = ''] = m;
  return Date.parse(`${head}${zone}`) * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/**
 * The request journal: the last `size` public API requests, newest first, so a test can verify what its
 * code sent. Kept in the process's memory only, per node (no store behind it; a restart empties it, and
 * each node of a multi-node deployment journals the requests it answered).
 */
export class Journal {
  private readonly ring: (Stored | undefined)[];
  /** Where the next entry goes. */
  private next = 0;
  private readonly clock: Clock;

  constructor(options: { size?: number; clock: Clock }) {
    const size = options.size ?? DEFAULT_JOURNAL_SIZE;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`journal size must be a positive integer`);
    this.ring = new Array<Stored | undefined>(size);
    this.clock = options.clock;
  }

  /** Records an answered request, stamped with the clock's time; the oldest entry makes room. */
  record(entry: Omit<JournalEntry, 'time'>): void {
    const time = this.clock.timestamp();
    this.ring[this.next] = { entry: { time, ...entry }, at: epochMicros(time) };
    this.next = (this.next + 1) % this.ring.length;
  }

  /** Newest first; every given filter must hold (`path` is a glob over the path after `/client/v4`). */
  list(filter: JournalQuery = {}): JournalEntry[] {
    const wrong = filter.path === undefined ? undefined : globError(filter.path);
    if (wrong !== undefined) throw new ValidationError(`path ${wrong}`, '/query/path');
    const path = filter.path === undefined ? undefined : compileGlob(filter.path);
    const method = filter.method?.toUpperCase();
    const since = filter.since === undefined ? undefined : epochMicros(filter.since);
    const found: JournalEntry[] = [];
    const n = this.ring.length;
    for (let k = 1; k <= n; k++) {
      const stored = this.ring[(this.next - k + n) % n];
      if (!stored) break;
      const e = stored.entry;
      if (method !== undefined && e.method !== method) continue;
      if (filter.operation_id !== undefined && e.operation_id !== filter.operation_id) continue;
      if (filter.status !== undefined && e.status !== filter.status) continue;
      if (since !== undefined && stored.at < since) continue;
      if (path && !path(apiPath(e.path))) continue;
      found.push(e);
    }
    return found;
  }

  /** Empties the journal; returns how many entries it held. */
  clear(): number {
    const n = this.ring.filter((s) => s !== undefined).length;
    this.ring.fill(undefined);
    this.next = 0;
    return n;
  }
}
