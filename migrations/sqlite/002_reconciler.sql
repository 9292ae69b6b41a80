-- Durable reconciler work, written in the same transaction as the API change that needs it.
-- kind 'recipient': converge one recipient; 'share': finalise deleting resources / a deleting share;
-- 'organization': re-derive the recipients of the organization's organization-targeted shares.
CREATE TABLE reconcile_work (
  kind TEXT NOT NULL CHECK (kind IN ('recipient', 'share', 'organization')),
  id TEXT NOT NULL,
  -- Bumped by every new request for the item, so a worker only retires the version it processed.
  generation INTEGER NOT NULL DEFAULT 1,
  -- Epoch milliseconds; 0 means due now.
  due_at INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires INTEGER,
  last_error TEXT,
  PRIMARY KEY (kind, id)
);
CREATE INDEX reconcile_work_due ON reconcile_work (due_at);

-- The version of a resource at which a terminal error happened: retried only once the version moves.
ALTER TABLE recipient_resources ADD COLUMN error_version INTEGER;

-- The built-in inventory driver: shared resources materialised in recipient accounts.
CREATE TABLE inventory (
  account_id TEXT NOT NULL REFERENCES accounts (id),
  share_resource_id TEXT NOT NULL,
  share_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_account_id TEXT NOT NULL,
  meta TEXT NOT NULL,
  resource_version INTEGER NOT NULL,
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  PRIMARY KEY (account_id, share_resource_id)
);
CREATE INDEX inventory_account ON inventory (account_id, created, share_resource_id);
