import type pg from 'pg';
import type { RateLimitStore } from '../../cloudflare/rate-limit/store.js';
import { named } from './database.js';

// One statement: the row lock of ON CONFLICT serialises concurrent hits on every node, so counts are exact.
const HIT = `INSERT INTO rate_limits AS r (key, window_start, reset_at, count) VALUES ($1, $2, $3, 1)
  ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1
  RETURNING count`;
const PRUNE = `DELETE FROM rate_limits WHERE ctid = ANY (ARRAY
  (SELECT ctid FROM rate_limits WHERE reset_at <= $1 LIMIT $2))`;

export class PgRateLimitStore implements RateLimitStore {
  constructor(private readonly pool: pg.Pool) {}

  async hit(key: string, windowStart: number, resetAt: number): Promise<number> {
    const { rows } = await this.pool.query<{ count: number }>(named(HIT, [key, windowStart, resetAt]));
    return (rows[0] as { count: number }).count;
  }

  async prune(now: number, limit: number): Promise<number> {
    return (await this.pool.query(named(PRUNE, [now, limit]))).rowCount ?? 0;
  }
}
