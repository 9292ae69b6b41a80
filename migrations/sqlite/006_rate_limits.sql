-- Rate-limit counters (`--rate-limit`): one row per caller and fixed window, so processes sharing the
-- file share the limit. Transient: not in state snapshots or store copies; ended windows are pruned.
CREATE TABLE rate_limits (
  key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  reset_at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_reset_at ON rate_limits (reset_at);
