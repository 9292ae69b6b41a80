import { ValidationError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { apiPath } from '../../http/paths.js';
import { compileGlob, globError } from '../faults/paths.js';
import {
  DEFAULT_JOURNAL_BODY_BYTES,
  DEFAULT_JOURNAL_BYTES,
  DEFAULT_JOURNAL_SIZE,
  type JournalEntry,
  type JournalQuery,
} from './schemas.js';

/** What is journaled of an answered request: the entry without its time, the body as JSON text (or null). */
export type JournalRecord = Omit<JournalEntry, 'time' | 'body' | 'body_truncated'> & { body: string | null };

interface Stored {
  /** The entry as listed, serialised and UTF-8 encoded once: its length is what it costs to keep. */
  json: Uint8Array;
  /** `time` in epoch microseconds, for `since`. */
  at: number;
  method: string;
  path: string;
  operation_id: string | null;
  status: number;
}

export interface JournalOptions {
  clock: Clock;
  /** Entries kept (default 1,000). */
  size?: number;
  /** Bytes kept in all, counted as the entries' JSON (default 16 MiB); the oldest entries make room. */
  maxBytes?: number;
  /** Bytes of one body's JSON kept (default 64 KiB); a longer body is cut there and marked truncated. */
  maxBodyBytes?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OPEN = encoder.encode('[');
const COMMA = encoder.encode(',');
const CLOSE = encoder.encode(']');

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`journal ${name} must be a positive integer`);
  return value;
}

function overBytes(text: string, bytes: number): boolean {
  // A UTF-16 unit is at least one UTF-8 byte: a text longer than `bytes` units is over without counting.
  return text.length > bytes || Buffer.byteLength(text) > bytes;
}

/** The longest start of `text` whose UTF-8 fits in `bytes` (cut between characters, never inside one). */
function utf8Prefix(text: string, bytes: number): string {
  const { read } = encoder.encodeInto(text, new Uint8Array(bytes));
  return text.slice(0, read);
}

/** Epoch microseconds of an RFC 3339 timestamp, fractional digits beyond milliseconds included. */
export function epochMicros(timestamp: string): number {
  const m = /^(.+?[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(timestamp);
  if (!m) return Date.parse(timestamp) * 1000;
  const [, head = '', fraction = '', zone = ''] = m;
  return Date.parse(`${head}${zone}`) * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/**
 * The request journal: the last public API requests, newest first, so a test can verify what its code
 * sent. Bounded in entries and in bytes: each entry is kept as the JSON it is listed as, so what it
 * costs is known exactly and listing parses nothing back. Kept in the process's memory only, per node
 * (no store behind it; a restart empties it, and each node of a multi-node deployment journals the
 * requests it answered).
 */
export class Journal {
  /** Oldest first. */
  private readonly entries: Stored[] = [];
  private total = 0;
  private readonly size: number;
  private readonly maxBytes: number;
  private readonly maxBodyBytes: number;
  private readonly clock: Clock;

  constructor(options: JournalOptions) {
    this.size = positiveInteger('size', options.size ?? DEFAULT_JOURNAL_SIZE);
    this.maxBytes = positiveInteger('bytes', options.maxBytes ?? DEFAULT_JOURNAL_BYTES);
    this.maxBodyBytes = positiveInteger('body bytes', options.maxBodyBytes ?? DEFAULT_JOURNAL_BODY_BYTES);
    if (this.maxBodyBytes > this.maxBytes)
      throw new RangeError('journal body bytes must not exceed journal bytes');
    this.clock = options.clock;
  }

  /** Bytes the entries hold now (their JSON, as listed). */
  get bytes(): number {
    return this.total;
  }

  /**
   * Records an answered request, stamped with the clock's time; the oldest entries make room. An entry
   * over the whole bound even with its body cut to nothing is not kept (false).
   */
  record(request: JournalRecord): boolean {
    const time = this.clock.timestamp();
    let json = encodeEntry(time, request, this.maxBodyBytes);
    if (json.byteLength > this.maxBytes) json = encodeEntry(time, request, 0);
    if (json.byteLength > this.maxBytes) return false;
    while (this.entries.length >= this.size || this.total + json.byteLength > this.maxBytes) {
      const oldest = this.entries.shift();
      if (!oldest) break;
      this.total -= oldest.json.byteLength;
    }
    const { method, path, operation_id, status } = request;
    this.entries.push({ json, at: epochMicros(time), method, path, operation_id, status });
    this.total += json.byteLength;
    return true;
  }

  /** Newest first; every given filter must hold (`path` is a glob over the path after `/client/v4`). */
  list(filter: JournalQuery = {}): JournalEntry[] {
    return this.matching(filter).map((s) => JSON.parse(decoder.decode(s.json)) as JournalEntry);
  }

  /** The same entries as one JSON array, from the JSON kept (nothing is parsed or serialised again). */
  listJson(filter: JournalQuery = {}): Buffer {
    const parts: Uint8Array[] = [OPEN];
    for (const [i, s] of this.matching(filter).entries()) {
      if (i > 0) parts.push(COMMA);
      parts.push(s.json);
    }
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }

  /** Empties the journal; returns how many entries it held. */
  clear(): number {
    const n = this.entries.length;
    this.entries.length = 0;
    this.total = 0;
    return n;
  }

  private matching(filter: JournalQuery): Stored[] {
    const wrong = filter.path === undefined ? undefined : globError(filter.path);
    if (wrong !== undefined) throw new ValidationError(`path ${wrong}`, '/query/path');
    const path = filter.path === undefined ? undefined : compileGlob(filter.path);
    const method = filter.method?.toUpperCase();
    const since = filter.since === undefined ? undefined : epochMicros(filter.since);
    const found: Stored[] = [];
    for (let k = this.entries.length - 1; k >= 0; k--) {
      const e = this.entries[k] as Stored;
      if (method !== undefined && e.method !== method) continue;
      if (filter.operation_id !== undefined && e.operation_id !== filter.operation_id) continue;
      if (filter.status !== undefined && e.status !== filter.status) continue;
      if (since !== undefined && e.at < since) continue;
      if (path && !path(apiPath(e.path))) continue;
      found.push(e);
    }
    return found;
  }
}

/** The entry's JSON, its body spliced in as the JSON text it already is (cut to `maxBodyBytes`). */
function encodeEntry(time: string, request: JournalRecord, maxBodyBytes: number): Uint8Array {
  const { body, ...rest } = request;
  const truncated = body !== null && overBytes(body, maxBodyBytes);
  const head = JSON.stringify({ time, ...rest, body_truncated: truncated });
  const bodyJson = body === null ? 'null' : truncated ? JSON.stringify(utf8Prefix(body, maxBodyBytes)) : body;
  return encoder.encode(`${head.slice(0, -1)},"body":${bodyJson}}`);
}
