import { LRUCache } from 'lru-cache';
import type { Clock } from '../../lib/clock.js';
import { tenancyGeneration } from './generation.js';

/** How long a cached credential answer is used (`--credential-cache-ms`). */
export const DEFAULT_CREDENTIAL_CACHE_MS = 500;
/** A token disabled, expired or re-scoped on another node must stop working within 1 s. */
export const MAX_CREDENTIAL_CACHE_MS = 1000;
/** Bytes the cache may hold, as counted by `entryBytes`; the least recently used entries make room. */
export const CREDENTIAL_CACHE_BYTES = 8 * 1024 * 1024;

/** An entry's cost beyond its characters: the entry and value objects, their fields, the LRU's slots. */
const ENTRY_OVERHEAD = 512;

/** A ceiling on what one entry keeps in memory: two bytes a character of its key and of its value's JSON. */
export function entryBytes(key: string, value: unknown): number {
  return 2 * (key.length + JSON.stringify(value).length) + ENTRY_OVERHEAD;
}

/** Refuses a time bound outside 0 (off) to `MAX_CREDENTIAL_CACHE_MS`. */
export function credentialCacheMs(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_CREDENTIAL_CACHE_MS)
    throw new RangeError(
      `credential cache: expected an integer from 0 to ${MAX_CREDENTIAL_CACHE_MS} ms, got ${ms}`,
    );
  return ms;
}

/** When a store read started, in clock time and tenancy generation: what its answer is valid against. */
export interface ReadStart {
  at: number;
  generation: number;
}

interface Entry<V> extends ReadStart {
  value: V;
}

/**
 * Successful credential answers, so a repeat caller is authenticated without a statement. An entry is used
 * while its read is less than `ttlMs` old on the clock (an entry from a clock since moved back is stale
 * too) and no tenancy write has happened in this process since its read started. Misses and refusals are
 * never stored: the caller decides what to keep. Keys and values hold digests, never secrets.
 */
export class CredentialCache<V> {
  private readonly entries: LRUCache<string, Entry<V>> | undefined;

  constructor(
    private readonly clock: Clock,
    readonly ttlMs: number = DEFAULT_CREDENTIAL_CACHE_MS,
    readonly maxBytes: number = CREDENTIAL_CACHE_BYTES,
  ) {
    credentialCacheMs(ttlMs);
    this.entries =
      ttlMs === 0
        ? undefined
        : new LRUCache<string, Entry<V>>({
            maxSize: maxBytes,
            sizeCalculation: (entry, key) => entryBytes(key, entry.value),
          });
  }

  get(key: string): V | undefined {
    const entry = this.entries?.get(key);
    if (!entry) return undefined;
    const age = this.clock.now() - entry.at;
    if (entry.generation === tenancyGeneration() && age >= 0 && age < this.ttlMs) return entry.value;
    this.entries?.delete(key);
    return undefined;
  }

  /** Taken before the store is asked: an answer is only as fresh as the moment its read began. */
  startRead(): ReadStart {
    return { at: this.clock.now(), generation: tenancyGeneration() };
  }

  set(key: string, value: V, read: ReadStart): void {
    this.entries?.set(key, { ...read, value });
  }

  delete(key: string): void {
    this.entries?.delete(key);
  }

  /** Entries held and their counted bytes (tests and diagnostics). */
  stats(): { entries: number; bytes: number } {
    return { entries: this.entries?.size ?? 0, bytes: this.entries?.calculatedSize ?? 0 };
  }
}
