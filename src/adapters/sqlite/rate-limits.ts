import type Database from 'better-sqlite3';
import type { RateLimitStore } from '../../cloudflare/rate-limit/store.js';
import { prepared } from './database.js';

const HIT = `INSERT INTO rate_limits (key, window_start, reset_at, count) VALUES (?, ?, ?, 1)
  ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
  RETURNING count`;
const PRUNE = `DELETE FROM rate_limits WHERE rowid IN
  (SELECT rowid FROM rate_limits WHERE reset_at <= ? LIMIT ?)`;

export class SqliteRateLimitStore implements RateLimitStore {
  constructor(private readonly db: Database.Database) {}

  async hit(key: string, windowStart: number, resetAt: number): Promise<number> {
    const row = prepared(this.db, HIT).get(key, windowStart, resetAt) as { count: number };
    return row.count;
  }

  async prune(now: number, limit: number): Promise<number> {
    return prepared(this.db, PRUNE).run(now, limit).changes;
  }
}
