import { ON_CONFLICT } from './work.js';

/* The tenancy store's statements on PostgreSQL (the single-row ones and the set-based batch ones). */

export const ORG_COLUMNS = 'id, name, created, modified';
export const ACCOUNT_COLUMNS = 'id, name, organization_id, entitlements, created, modified';

/**
 * Scope links have no position column: they are read back in physical order, which is the order one
 * upsert wrote them in (SQLite reads them in rowid order). Scopes are used as sets everywhere; the order
 * only shows in listings.
 */
export const USER_SCOPE = `
  COALESCE((SELECT array_agg(l.account_id::text ORDER BY l.ctid) FROM user_accounts l WHERE l.user_id = u.id),
    '{}') AS accounts,
  COALESCE((SELECT array_agg(l.organization_id::text ORDER BY l.ctid) FROM user_organizations l
    WHERE l.user_id = u.id), '{}') AS organizations`;
export const TOKEN_SCOPE = `
  COALESCE((SELECT array_agg(l.account_id::text ORDER BY l.ctid) FROM token_accounts l WHERE l.token_id = t.id),
    '{}') AS accounts,
  COALESCE((SELECT array_agg(l.organization_id::text ORDER BY l.ctid) FROM token_organizations l
    WHERE l.token_id = t.id), '{}') AS organizations`;

// One statement each, so a user or token and its scope come from a single snapshot.
export const USER_SELECT = `SELECT u.id, u.email, u.api_key_hash, u.created, ${USER_SCOPE} FROM users u`;
export const TOKEN_SELECT = `SELECT t.id, t.name, t.secret_hash, t.can_edit, t.status,
  -- Expiries are whole seconds, written and returned as Cloudflare does: 2030-01-01T00:00:00Z.
  to_char(t.expires_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_on, t.created, ${TOKEN_SCOPE}
  FROM tokens t`;

export const ORG_GET = `SELECT ${ORG_COLUMNS} FROM organizations WHERE id = $1`;
export const ORG_LIST = `SELECT ${ORG_COLUMNS} FROM organizations ORDER BY created, id`;
export const ORG_UPSERT = `INSERT INTO organizations (id, name, created, modified) VALUES ($1, $2, $3, $4)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, modified = excluded.modified`;

export const ACCOUNT_GET = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`;
export const ACCOUNT_LOCK = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE`;
export const ACCOUNT_LIST = `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created, id`;
export const ACCOUNT_LIST_BY_ORG = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = $1 ORDER BY created, id`;
export const ACCOUNT_UPSERT = `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
  VALUES ($1, $2, $3, $4::jsonb, $5, $6)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
    entitlements = excluded.entitlements, modified = excluded.modified`;
export const CLEAR_TERMINAL_ERRORS = `UPDATE recipient_resources SET error_version = NULL
  WHERE terminal AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = $1)`;

export const USER_BY_EMAIL = `${USER_SELECT} WHERE u.email = $1`;
export const USER_LOCK = `${USER_BY_EMAIL} FOR UPDATE OF u`;
export const USER_LIST = `${USER_SELECT} ORDER BY u.created, u.id`;
// Keyed on email: an existing user keeps its id and creation time. `modified` is bookkeeping only.
export const USER_UPSERT = `INSERT INTO users (id, email, api_key_hash, created, modified) VALUES ($1, $2, $3, $4, $4)
  ON CONFLICT (email) DO UPDATE SET api_key_hash = excluded.api_key_hash, modified = now()
  RETURNING id`;
export const USER_ACCOUNTS_CLEAR = 'DELETE FROM user_accounts WHERE user_id = $1';
export const USER_ORGS_CLEAR = 'DELETE FROM user_organizations WHERE user_id = $1';
export const USER_ACCOUNTS_ADD = `INSERT INTO user_accounts (user_id, account_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;
export const USER_ORGS_ADD = `INSERT INTO user_organizations (user_id, organization_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;

export const TOKEN_BY_HASH = `${TOKEN_SELECT} WHERE t.secret_hash = $1`;
export const TOKEN_BY_ID = `${TOKEN_SELECT} WHERE t.id = $1`;
export const TOKEN_LOCK = `${TOKEN_BY_ID} FOR UPDATE OF t`;
export const TOKEN_LIST = `${TOKEN_SELECT} ORDER BY t.created, t.id`;
export const TOKEN_UPSERT = `INSERT INTO tokens (id, name, secret_hash, can_edit, status, expires_on, created, modified)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
    can_edit = excluded.can_edit, status = excluded.status, expires_on = excluded.expires_on, modified = now()`;
export const TOKEN_ACCOUNTS_CLEAR = 'DELETE FROM token_accounts WHERE token_id = $1';
export const TOKEN_ORGS_CLEAR = 'DELETE FROM token_organizations WHERE token_id = $1';
export const TOKEN_ACCOUNTS_ADD = `INSERT INTO token_accounts (token_id, account_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;
export const TOKEN_ORGS_ADD = `INSERT INTO token_organizations (token_id, organization_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;

// Authentication: the principal and whether its scope holds the one account or organization the request
// names, in one round trip. The scope tables' primary keys (owner, target) answer the EXISTS.
export const USER_CREDENTIAL_COLUMNS = 'u.id, u.email, u.api_key_hash, u.created';
export const TOKEN_CREDENTIAL_COLUMNS = `t.id, t.name, t.secret_hash, t.can_edit, t.status,
  to_char(t.expires_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_on, t.created`;
// An account target's row comes with the credential, joined through the scope link that authorizes it,
// so the request never reads the account again (and an out-of-scope account is not read at all).
export const TARGET_ACCOUNT_COLUMNS = `l.account_id IS NOT NULL AS in_scope, ta.name AS account_name,
  ta.organization_id AS account_organization_id, ta.entitlements AS account_entitlements,
  ta.created AS account_created, ta.modified AS account_modified`;
export const CREDENTIAL = {
  user: {
    account: `SELECT ${USER_CREDENTIAL_COLUMNS}, ${TARGET_ACCOUNT_COLUMNS}
      FROM users u LEFT JOIN user_accounts l ON l.user_id = u.id AND l.account_id = $2
      LEFT JOIN accounts ta ON ta.id = l.account_id WHERE u.email = $1`,
    organization: `SELECT ${USER_CREDENTIAL_COLUMNS}, EXISTS (SELECT 1 FROM user_organizations l
      WHERE l.user_id = u.id AND l.organization_id = $2) AS in_scope FROM users u WHERE u.email = $1`,
    none: `SELECT ${USER_CREDENTIAL_COLUMNS}, false AS in_scope FROM users u WHERE u.email = $1`,
  },
  token: {
    account: `SELECT ${TOKEN_CREDENTIAL_COLUMNS}, ${TARGET_ACCOUNT_COLUMNS}
      FROM tokens t LEFT JOIN token_accounts l ON l.token_id = t.id AND l.account_id = $2
      LEFT JOIN accounts ta ON ta.id = l.account_id WHERE t.secret_hash = $1`,
    organization: `SELECT ${TOKEN_CREDENTIAL_COLUMNS}, EXISTS (SELECT 1 FROM token_organizations l
      WHERE l.token_id = t.id AND l.organization_id = $2) AS in_scope FROM tokens t WHERE t.secret_hash = $1`,
    none: `SELECT ${TOKEN_CREDENTIAL_COLUMNS}, false AS in_scope FROM tokens t WHERE t.secret_hash = $1`,
  },
} as const;

// Driven from the named ids: one primary-key probe each, never a walk over the organization's accounts.
export const ORG_MEMBERS = `SELECT a.id FROM unnest($2::char(32)[]) AS u (id) JOIN accounts a ON a.id = u.id
  WHERE a.organization_id = $1`;

// Batches (bootstrap files): set-based statements over arrays, a handful of round trips whatever the size.
/** Any key works as long as every rshare node uses the same one: "rsbat" in ASCII. */
export const BATCH_LOCK = 0x7273626174;
export const ORGS_BY_IDS = `SELECT ${ORG_COLUMNS} FROM organizations WHERE id = ANY($1::char(32)[])`;
export const ACCOUNTS_BY_IDS = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1::char(32)[])`;
export const ACCOUNTS_LOCK_BY_IDS = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1::char(32)[])
  ORDER BY id FOR UPDATE`;
export const USERS_BY_EMAILS = `${USER_SELECT} WHERE u.email = ANY($1::text[])`;
export const TOKENS_BY_HASHES = `${TOKEN_SELECT} WHERE t.secret_hash = ANY($1::char(64)[])`;
export const ORGS_UPSERT = `INSERT INTO organizations (id, name, created, modified)
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, modified = excluded.modified`;
export const ACCOUNTS_UPSERT = `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
  SELECT id, name, org, e::jsonb, c, m
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
    AS u (id, name, org, e, c, m)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
    entitlements = excluded.entitlements, modified = excluded.modified`;
export const CLEAR_TERMINAL_ERRORS_MANY = `UPDATE recipient_resources SET error_version = NULL
  WHERE terminal AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = ANY($1::char(32)[]))`;
export const ENQUEUE_ACCOUNTS_RECIPIENTS = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT 'recipient', id, $2::bigint FROM share_recipients
  WHERE account_id = ANY($1::char(32)[]) AND desired_status = 'associated'
  ${ON_CONFLICT}`;
export const USER_ACCOUNTS_REMOVE =
  'DELETE FROM user_accounts WHERE user_id = $1 AND account_id = ANY($2::char(32)[])';
export const USER_ORGS_REMOVE = `DELETE FROM user_organizations
  WHERE user_id = $1 AND organization_id = ANY($2::char(32)[])`;
export const TOKEN_ACCOUNTS_REMOVE =
  'DELETE FROM token_accounts WHERE token_id = $1 AND account_id = ANY($2::char(32)[])';
export const TOKEN_ORGS_REMOVE = `DELETE FROM token_organizations
  WHERE token_id = $1 AND organization_id = ANY($2::char(32)[])`;

export const DEPART = `INSERT INTO organization_departures (organization_id, account_id) VALUES ($1, $2)
  ON CONFLICT DO NOTHING`;
