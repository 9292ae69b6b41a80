import { isDeepStrictEqual } from 'node:util';

/**
 * Bytes of JSON (UTF-8) each of an entry's four values (request body, old value, new value, metadata)
 * may take. Without a bound, a 1 MB meta was kept three times per update (request, old, new) plus once
 * per recipient by the reconciler: five updates grew a store from 0.29 MB to 21 MB.
 */
export const AUDIT_VALUE_MAX_BYTES = 8 * 1024;

/** What an entry keeps instead of a value whose JSON is over the bound: its size and how it starts. */
export interface TruncatedValue {
  truncated: true;
  /** Bytes of the whole value's JSON. */
  bytes: number;
  /** The start of that JSON, as text (cut between characters, never inside one). */
  json_prefix: string;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * `value` itself if its JSON fits in `max` bytes, otherwise a `TruncatedValue` whose own JSON fits: the
 * stored entry stays valid JSON, says it was cut, and how large the original was.
 */
export function boundedValue(value: unknown, max = AUDIT_VALUE_MAX_BYTES): unknown {
  if (value === null || value === undefined) return null;
  const json = JSON.stringify(value);
  const bytes = utf8Bytes(json);
  if (bytes <= max) return value;
  const budget = max - utf8Bytes(JSON.stringify({ truncated: true, bytes, json_prefix: '' }));
  return { truncated: true, bytes, json_prefix: json.slice(0, prefixLength(json, budget)) };
}

/**
 * The longest prefix of `text` whose JSON string literal adds at most `budget` bytes. Escaping makes a
 * character cost 1 to 6 bytes, so the length is searched for; a surrogate pair is never split (half of
 * one is text neither store can keep).
 */
function prefixLength(text: string, budget: number): number {
  const cost = (n: number) => utf8Bytes(JSON.stringify(text.slice(0, n))) - 2;
  let lo = 0;
  let hi = Math.min(text.length, Math.max(budget, 0));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cost(mid) <= budget) lo = mid;
    else hi = mid - 1;
  }
  const last = text.charCodeAt(lo - 1);
  return last >= 0xd800 && last <= 0xdbff ? lo - 1 : lo;
}

/**
 * A meta change as the two sides of a diff: the top-level keys removed or changed, with their old
 * values, and the keys added or changed, with their new ones. An entry then shows what changed without
 * keeping the whole meta twice.
 */
export function metaDiff(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): { old: Record<string, unknown>; new: Record<string, unknown> } {
  // fromEntries defines each key as an own property, "__proto__" included (assignment would not).
  const changedIn = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(a).filter(([key, value]) => !Object.hasOwn(b, key) || !isDeepStrictEqual(value, b[key])),
    );
  return { old: changedIn(before, after), new: changedIn(after, before) };
}
