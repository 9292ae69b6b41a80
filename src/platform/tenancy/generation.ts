/**
 * A process-wide count of tenancy writes (organizations, accounts, users, tokens, their scopes), bumped by
 * every store method that writes those tables, whichever store object in the process made it (the server's,
 * the CLI's in-process one, a test's). The credential cache drops an entry read at another generation, so
 * a tenancy change made in this process is seen by its next request. Other processes are not told: there
 * the cache's time bound applies. Writers that only fill an empty store (`seed`, `migrate-store`) need not
 * bump it: only successful answers are cached, and none can be about rows that did not exist.
 */
let generation = 0;

export function tenancyGeneration(): number {
  return generation;
}

/**
 * Runs a tenancy write and bumps the generation once it has ended, committed or not. A credential read
 * records the generation before it starts, so a read that raced the write is dropped at its next use.
 */
export async function tenancyWrite<T>(write: () => Promise<T> | T): Promise<T> {
  try {
    return await write();
  } finally {
    generation++;
  }
}
