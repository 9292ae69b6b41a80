import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

// Random bits for 256 ids at a time: uuid's own source makes one getRandomValues call per id, which was 4%
// of a create's CPU.
const pool = Buffer.alloc(4096);
let used = pool.length;

function random16(): Uint8Array {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  return pool.subarray(used, (used += 16));
}

/**
 * A version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits. Ids made close together sort close
 * together, so the rows and index entries a write adds land on the same few right-most pages instead of a
 * random page of every index each (on SQLite, a WAL frame and a checkpoint copy per page).
 */
export function timeOrderedUuid(): string {
  return v7({ random: random16() });
}

/**
 * Object identifiers: 32 lowercase hex characters (a UUID without dashes, as Cloudflare's), time ordered.
 */
export function newId(): string {
  return timeOrderedUuid().replaceAll('-', '');
}

/** Where a server's new object ids come from. */
export interface IdSource {
  next(): string;
  /** Starts the sequence over (a seeded source repeats its ids; a random one has nothing to restart). */
  restart(): void;
}

export const timeOrderedIds: IdSource = { next: newId, restart() {} };

/**
 * Ids that repeat from run to run: the n-th id of seed s is the first 32 hex digits of
 * sha256("rshare:<stream>:s:n"), so they look like any other id but two runs of one test get the same
 * ones. Separate streams (tenancy, objects) keep a restarted object sequence clear of tenancy ids.
 */
export function seededIds(seed: number, stream = 'objects'): IdSource {
  let n = 0;
  return {
    next: () => createHash('sha256').update(`rshare:${stream}:${seed}:${++n}`).digest('hex').slice(0, 32),
    restart() {
      n = 0;
    },
  };
}

export const ID_PATTERN = '^[0-9a-f]{32}$';
const idRegex = new RegExp(ID_PATTERN);

export function isId(value: string): boolean {
  return idRegex.test(value);
}

/** A fresh high-entropy secret for API tokens and keys (40 URL-safe characters, like Cloudflare's). */
export function newSecret(): string {
  return randomBytes(30).toString('base64url');
}
