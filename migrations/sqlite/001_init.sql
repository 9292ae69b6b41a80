-- Tenancy: organizations, accounts, users (email + global key), API tokens.
CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  organization_id TEXT REFERENCES organizations (id),
  -- JSON array of resource types the account may receive; NULL means all.
  entitlements TEXT,
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);
CREATE INDEX accounts_organization ON accounts (organization_id);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  api_key_hash TEXT NOT NULL,
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);

CREATE TABLE user_accounts (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  PRIMARY KEY (user_id, account_id)
);

CREATE TABLE user_organizations (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  PRIMARY KEY (user_id, organization_id)
);

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  can_edit INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  expires_on TEXT,
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);

CREATE TABLE token_accounts (
  token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  PRIMARY KEY (token_id, account_id)
);

CREATE TABLE token_organizations (
  token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  PRIMARY KEY (token_id, organization_id)
);

-- Sharing.
CREATE TABLE shares (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  name TEXT NOT NULL,
  target_type TEXT NOT NULL CHECK (target_type IN ('account', 'organization')),
  status TEXT NOT NULL CHECK (status IN ('active', 'deleting', 'deleted')),
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);
CREATE INDEX shares_account ON shares (account_id, created, id);
CREATE INDEX shares_organization ON shares (organization_id, created, id);

CREATE TABLE share_tags (
  share_id TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (share_id, key)
);
CREATE INDEX share_tags_key_value ON share_tags (key, value);

CREATE TABLE share_recipients (
  id TEXT PRIMARY KEY,
  share_id TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  -- What the API asked for; the reconciler drives status toward it.
  desired_status TEXT NOT NULL CHECK (desired_status IN ('associated', 'disassociated')),
  status TEXT NOT NULL CHECK (status IN ('associating', 'associated', 'disassociating', 'disassociated')),
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  UNIQUE (share_id, account_id)
);
CREATE INDEX share_recipients_account ON share_recipients (account_id, status);
CREATE INDEX share_recipients_share ON share_recipients (share_id, created, id);

CREATE TABLE share_resources (
  id TEXT PRIMARY KEY,
  share_id TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  resource_id TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_account_id TEXT NOT NULL REFERENCES accounts (id),
  meta TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'deleting', 'deleted')),
  resource_version INTEGER NOT NULL,
  created TEXT NOT NULL,
  modified TEXT NOT NULL
);
CREATE INDEX share_resources_share ON share_resources (share_id, created, id);
-- A resource is shared at most once per share while it is not fully deleted.
CREATE UNIQUE INDEX share_resources_unique_live
  ON share_resources (share_id, resource_type, resource_id) WHERE status <> 'deleted';

CREATE TABLE share_excluded_recipients (
  id TEXT PRIMARY KEY,
  share_id TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  UNIQUE (share_id, account_id)
);
CREATE INDEX share_excluded_recipients_share ON share_excluded_recipients (share_id, created, id);

-- Delivery state of one resource in one recipient account (written by the reconciler).
CREATE TABLE recipient_resources (
  recipient_id TEXT NOT NULL REFERENCES share_recipients (id) ON DELETE CASCADE,
  share_resource_id TEXT NOT NULL REFERENCES share_resources (id) ON DELETE CASCADE,
  applied_version INTEGER,
  error TEXT NOT NULL DEFAULT '',
  terminal INTEGER NOT NULL DEFAULT 0,
  modified TEXT NOT NULL,
  PRIMARY KEY (recipient_id, share_resource_id)
);
