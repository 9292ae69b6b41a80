-- Cloudflare-shaped audit logs: one row per change (or read, with --audit-reads) per account that sees it,
-- written in the transaction of the change itself. Values are JSON text. No foreign keys: an entry
-- outlives what it describes (a deleted share, an account that left).
CREATE TABLE audit_logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  organization_id TEXT,
  time TEXT NOT NULL,
  action_type TEXT NOT NULL,
  action_description TEXT NOT NULL,
  action_result TEXT NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT,
  actor_email TEXT,
  actor_ip TEXT,
  actor_context TEXT,
  actor_token_id TEXT,
  actor_token_name TEXT,
  interface TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  -- The share an entry is about (its sub-objects' entries included), for a share's history.
  share_id TEXT,
  raw_method TEXT,
  raw_uri TEXT,
  raw_status_code INTEGER,
  raw_user_agent TEXT,
  raw_ray_id TEXT,
  old_value TEXT,
  new_value TEXT,
  metadata TEXT,
  request TEXT
);
-- An account's page, newest or oldest first, at any depth of a cursor.
CREATE INDEX audit_logs_account_time ON audit_logs (account_id, time, seq);
-- A share's history (rshare's own `share_id` filter).
CREATE INDEX audit_logs_share_time ON audit_logs (account_id, share_id, time, seq);
-- Retention pruning.
CREATE INDEX audit_logs_time ON audit_logs (time);
