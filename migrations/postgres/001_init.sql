-- Tenancy: organizations, accounts, users (email + global key), API tokens.
CREATE TABLE organizations (
  id char(32) PRIMARY KEY,
  name text NOT NULL,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);

CREATE TABLE accounts (
  id char(32) PRIMARY KEY,
  name text NOT NULL,
  organization_id char(32) REFERENCES organizations (id),
  -- Resource types the account may receive; NULL means all.
  entitlements jsonb,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);
CREATE INDEX accounts_organization ON accounts (organization_id);

CREATE TABLE users (
  id char(32) PRIMARY KEY,
  email text NOT NULL UNIQUE,
  api_key_hash char(64) NOT NULL,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);

CREATE TABLE user_accounts (
  user_id char(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  account_id char(32) NOT NULL REFERENCES accounts (id),
  PRIMARY KEY (user_id, account_id)
);

CREATE TABLE user_organizations (
  user_id char(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id char(32) NOT NULL REFERENCES organizations (id),
  PRIMARY KEY (user_id, organization_id)
);

CREATE TABLE tokens (
  id char(32) PRIMARY KEY,
  name text NOT NULL,
  secret_hash char(64) NOT NULL UNIQUE,
  can_edit boolean NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'disabled')),
  expires_on timestamptz,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);

CREATE TABLE token_accounts (
  token_id char(32) NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  account_id char(32) NOT NULL REFERENCES accounts (id),
  PRIMARY KEY (token_id, account_id)
);

CREATE TABLE token_organizations (
  token_id char(32) NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  organization_id char(32) NOT NULL REFERENCES organizations (id),
  PRIMARY KEY (token_id, organization_id)
);

-- Sharing.
CREATE TABLE shares (
  id char(32) PRIMARY KEY,
  account_id char(32) NOT NULL REFERENCES accounts (id),
  organization_id char(32) NOT NULL REFERENCES organizations (id),
  name text NOT NULL,
  target_type text NOT NULL CHECK (target_type IN ('account', 'organization')),
  status text NOT NULL CHECK (status IN ('active', 'deleting', 'deleted')),
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);
CREATE INDEX shares_account ON shares (account_id, created, id);
CREATE INDEX shares_organization ON shares (organization_id, created, id);

CREATE TABLE share_tags (
  share_id char(32) NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (share_id, key)
);
CREATE INDEX share_tags_key_value ON share_tags (key, value);

CREATE TABLE share_recipients (
  id char(32) PRIMARY KEY,
  share_id char(32) NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  account_id char(32) NOT NULL REFERENCES accounts (id),
  -- What the API asked for; the reconciler drives status toward it.
  desired_status text NOT NULL CHECK (desired_status IN ('associated', 'disassociated')),
  status text NOT NULL CHECK (status IN ('associating', 'associated', 'disassociating', 'disassociated')),
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  UNIQUE (share_id, account_id)
);
CREATE INDEX share_recipients_account ON share_recipients (account_id, status);
CREATE INDEX share_recipients_share ON share_recipients (share_id, created, id);

CREATE TABLE share_resources (
  id char(32) PRIMARY KEY,
  share_id char(32) NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  resource_id varchar(32) NOT NULL,
  resource_type text NOT NULL,
  resource_account_id char(32) NOT NULL REFERENCES accounts (id),
  meta jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'deleting', 'deleted')),
  resource_version integer NOT NULL,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);
CREATE INDEX share_resources_share ON share_resources (share_id, created, id);
CREATE INDEX share_resources_type ON share_resources (resource_type, share_id) WHERE status <> 'deleted';
-- A resource is shared at most once per share while it is not fully deleted.
CREATE UNIQUE INDEX share_resources_unique_live
  ON share_resources (share_id, resource_type, resource_id) WHERE status <> 'deleted';

CREATE TABLE share_excluded_recipients (
  id char(32) PRIMARY KEY,
  share_id char(32) NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
  account_id char(32) NOT NULL REFERENCES accounts (id),
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  UNIQUE (share_id, account_id)
);
CREATE INDEX share_excluded_recipients_share ON share_excluded_recipients (share_id, created, id);

-- Delivery state of one resource in one recipient account (written by the reconciler).
CREATE TABLE recipient_resources (
  recipient_id char(32) NOT NULL REFERENCES share_recipients (id) ON DELETE CASCADE,
  share_resource_id char(32) NOT NULL REFERENCES share_resources (id) ON DELETE CASCADE,
  applied_version integer,
  error text NOT NULL DEFAULT '',
  terminal boolean NOT NULL DEFAULT false,
  modified timestamptz NOT NULL,
  PRIMARY KEY (recipient_id, share_resource_id)
);
CREATE INDEX recipient_resources_resource ON recipient_resources (share_resource_id) WHERE applied_version IS NOT NULL;
