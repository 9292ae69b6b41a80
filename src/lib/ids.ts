import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** Object identifiers: 32 lowercase hex characters (a UUID without dashes). */
export function newId(): string {
  return randomUUID().replaceAll('-', '');
}

/** Where a server's new object ids come from. */
export interface IdSource {
  next(): string;
  /** Starts the sequence over (a seeded source repeats its ids; a random one has nothing to restart). */
  restart(): void;
}

export const randomIds: IdSource = { next: newId, restart() {} };

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
