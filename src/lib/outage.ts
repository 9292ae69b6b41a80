/**
 * Which driver errors mean "the store cannot serve right now, try again later" rather than a bug or a bad
 * request: PostgreSQL gone, restarting, out of connections or too slow, a SQLite file that cannot be
 * written. The HTTP layer answers these with 503 and the reconciler pauses on them; neither needs to know
 * a driver's error codes.
 */

/** Socket errors on the way to PostgreSQL (Node's `err.code`). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception) and 53 (insufficient resources: disk full, out of
 * memory, too many connections) by prefix; shutdown, crash, start-up, a cancelled (timed-out) statement,
 * and a write on a read-only standby (a primary that failed over) exactly.
 */
const PG_CLASSES = ['08', '53'];
const PG_CODES = new Set(['57P01', '57P02', '57P03', '57014', '25006']);

/** `pg` and `pg-pool` raise these as plain errors, without a code. */
const PG_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
]);

/**
 * SQLite result codes (better-sqlite3's `err.code`, extended codes included by prefix): a read-only file
 * or handle, a full disk, an I/O error, a file that cannot be opened, and a lock still held by another
 * process once the busy timeout has run out.
 */
const SQLITE_PREFIXES = ['SQLITE_READONLY', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_BUSY'];

/** True when `err` says the store is unreachable or cannot take writes for now (worth a retry later). */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || PG_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && PG_CLASSES.includes(code.slice(0, 2))) return true;
    if (SQLITE_PREFIXES.some((p) => code.startsWith(p))) return true;
  }
  return PG_MESSAGES.has(err.message);
}
