-- Rate-limit counters (`--rate-limit`): one row per caller and fixed window, shared by every node. Transient:
-- not in state snapshots or store copies; ended windows are pruned. UNLOGGED: a count need not survive a
-- crash (the table is emptied then), and skipping the WAL keeps the per-request upsert cheap.
CREATE UNLOGGED TABLE rate_limits (
  key text NOT NULL,
  window_start bigint NOT NULL,
  reset_at bigint NOT NULL,
  count integer NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_reset_at ON rate_limits (reset_at);
