-- Durable reconciler work, written in the same transaction as the API change that needs it.
-- kind 'recipient': converge one recipient; 'share': finalise deleting resources / a deleting share;
-- 'organization': re-derive the recipients of the organization's shares from its members.
CREATE TABLE reconcile_work (
  kind text NOT NULL CHECK (kind IN ('recipient', 'share', 'organization')),
  id char(32) NOT NULL,
  -- Bumped by every new request for the item, so a worker only retires the version it processed.
  generation integer NOT NULL DEFAULT 1,
  -- Epoch milliseconds; 0 means due now.
  due_at bigint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  lease_owner text,
  lease_expires bigint,
  last_error text,
  PRIMARY KEY (kind, id)
);
CREATE INDEX reconcile_work_due ON reconcile_work (due_at);

-- The version of a resource at which a terminal error happened: retried only once the version moves.
ALTER TABLE recipient_resources ADD COLUMN error_version integer;

-- The built-in inventory driver: shared resources materialised in recipient accounts.
CREATE TABLE inventory (
  account_id char(32) NOT NULL REFERENCES accounts (id),
  share_resource_id char(32) NOT NULL,
  share_id char(32) NOT NULL,
  resource_id varchar(32) NOT NULL,
  resource_type text NOT NULL,
  resource_account_id char(32) NOT NULL,
  meta jsonb NOT NULL,
  resource_version integer NOT NULL,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  PRIMARY KEY (account_id, share_resource_id)
);
CREATE INDEX inventory_account ON inventory (account_id, created, share_resource_id);
