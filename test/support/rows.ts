import type { Harness } from '../helpers.js';

/** The tables a refused share write could have touched. */
const TABLES = [
  'shares',
  'share_tags',
  'share_resources',
  'share_recipients',
  'reconcile_work',
  'audit_logs',
];

/**
 * The row count of every table a share write touches, and each organization's share counter (a create
 * takes the next number first), to prove a refused write changed nothing, on either store.
 */
export async function writtenRows(h: Harness): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await h.sql(`SELECT count(*) AS n FROM ${table}`);
    counts[table] = Number(row?.n);
  }
  for (const row of await h.sql('SELECT id, share_count FROM organizations ORDER BY id')) {
    counts[`organizations ${String(row.id)} share_count`] = Number(row.share_count);
  }
  return counts;
}
