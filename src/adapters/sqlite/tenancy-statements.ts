import type Database from 'better-sqlite3';
import {
  ACCOUNT_COLUMNS,
  NOW_SQL,
  ORG_COLUMNS,
  targetSql,
  TOKEN_COLUMNS,
  USER_COLUMNS,
  type AccountRecord,
  type ScopeLink,
  type Target,
  type TargetAccountRecord,
  type TokenRecord,
  type UserRecord,
} from './tenancy-rows.js';
import type { OrganizationRow } from '../../platform/tenancy/store.js';

/** Every statement of the tenancy store, typed by hand so the compiled declarations can name them. */
export interface TenancyStatements {
  orgGet: Database.Statement<[string], OrganizationRow>;
  orgList: Database.Statement<[], OrganizationRow>;
  orgUpsert: Database.Statement<OrganizationRow>;
  accountGet: Database.Statement<[string], AccountRecord>;
  accountList: Database.Statement<[], AccountRecord>;
  accountListByOrg: Database.Statement<[string], AccountRecord>;
  accountUpsert: Database.Statement<AccountRecord>;
  userByEmail: Database.Statement<[string], UserRecord>;
  userList: Database.Statement<[], UserRecord>;
  userUpsert: Database.Statement<UserRecord>;
  userIdByEmail: Database.Statement<[string], string>;
  userAccounts: Database.Statement<[string], string>;
  userOrgs: Database.Statement<[string], string>;
  allUserAccounts: Database.Statement<[], ScopeLink>;
  allUserOrgs: Database.Statement<[], ScopeLink>;
  userAccountsClear: Database.Statement<[string]>;
  userOrgsClear: Database.Statement<[string]>;
  userAccountAdd: Database.Statement<[string, string]>;
  userOrgAdd: Database.Statement<[string, string]>;
  tokenByHash: Database.Statement<[string], TokenRecord>;
  tokenById: Database.Statement<[string], TokenRecord>;
  tokenList: Database.Statement<[], TokenRecord>;
  tokenUpsert: Database.Statement<TokenRecord>;
  tokenAccounts: Database.Statement<[string], string>;
  tokenOrgs: Database.Statement<[string], string>;
  allTokenAccounts: Database.Statement<[], ScopeLink>;
  allTokenOrgs: Database.Statement<[], ScopeLink>;
  tokenAccountsClear: Database.Statement<[string]>;
  tokenOrgsClear: Database.Statement<[string]>;
  tokenAccountAdd: Database.Statement<[string, string]>;
  tokenOrgAdd: Database.Statement<[string, string]>;
  members: Database.Statement<[string, string], string>;
  userCredential: Map<Target, Database.Statement<[string, string], UserRecord & TargetAccountRecord>>;
  tokenCredential: Map<Target, Database.Statement<[string, string], TokenRecord & TargetAccountRecord>>;
  accountsByIds: Database.Statement<[string], AccountRecord>;
}

/** Every statement of the tenancy store, prepared once per database. */
export function tenancyStatements(db: Database.Database): TenancyStatements {
  const pluck = <P extends unknown[], R>(sql: string): Database.Statement<P, R> =>
    db.prepare<P, R>(sql).pluck() as Database.Statement<P, R>;
  const userCredential = new Map<
    Target,
    Database.Statement<[string, string], UserRecord & TargetAccountRecord>
  >();
  const tokenCredential = new Map<
    Target,
    Database.Statement<[string, string], TokenRecord & TargetAccountRecord>
  >();
  const orgGet = db.prepare<[string], OrganizationRow>(
    `SELECT ${ORG_COLUMNS} FROM organizations WHERE id = ?`,
  );
  const orgList = db.prepare<[], OrganizationRow>(
    `SELECT ${ORG_COLUMNS} FROM organizations ORDER BY created, id`,
  );
  const orgUpsert = db.prepare<OrganizationRow>(
    `INSERT INTO organizations (id, name, created, modified) VALUES (@id, @name, @created, @modified)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, modified = excluded.modified`,
  );

  const accountGet = db.prepare<[string], AccountRecord>(
    `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`,
  );
  const accountList = db.prepare<[], AccountRecord>(
    `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created, id`,
  );
  const accountListByOrg = db.prepare<[string], AccountRecord>(
    `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = ? ORDER BY created, id`,
  );
  const accountUpsert = db.prepare<AccountRecord>(
    `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
     VALUES (@id, @name, @organization_id, @entitlements, @created, @modified)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
       entitlements = excluded.entitlements, modified = excluded.modified`,
  );

  const userByEmail = db.prepare<[string], UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`);
  const userList = db.prepare<[], UserRecord>(`SELECT ${USER_COLUMNS} FROM users ORDER BY created, id`);
  // Keyed on email: an existing user keeps its id and creation time.
  const userUpsert = db.prepare<UserRecord>(
    `INSERT INTO users (id, email, api_key_hash, created, modified) VALUES (@id, @email, @api_key_hash, @created, @created)
     ON CONFLICT (email) DO UPDATE SET api_key_hash = excluded.api_key_hash, modified = ${NOW_SQL}`,
  );
  const userIdByEmail = pluck<[string], string>('SELECT id FROM users WHERE email = ?');
  const userAccounts = pluck<[string], string>(
    'SELECT account_id FROM user_accounts WHERE user_id = ? ORDER BY rowid',
  );
  const userOrgs = pluck<[string], string>(
    'SELECT organization_id FROM user_organizations WHERE user_id = ? ORDER BY rowid',
  );
  const allUserAccounts = db.prepare<[], ScopeLink>(
    'SELECT user_id AS owner, account_id AS target FROM user_accounts ORDER BY rowid',
  );
  const allUserOrgs = db.prepare<[], ScopeLink>(
    'SELECT user_id AS owner, organization_id AS target FROM user_organizations ORDER BY rowid',
  );
  const userAccountsClear = db.prepare<[string]>('DELETE FROM user_accounts WHERE user_id = ?');
  const userOrgsClear = db.prepare<[string]>('DELETE FROM user_organizations WHERE user_id = ?');
  const userAccountAdd = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO user_accounts (user_id, account_id) VALUES (?, ?)',
  );
  const userOrgAdd = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO user_organizations (user_id, organization_id) VALUES (?, ?)',
  );

  const tokenByHash = db.prepare<[string], TokenRecord>(
    `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE secret_hash = ?`,
  );
  const tokenById = db.prepare<[string], TokenRecord>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = ?`);
  const tokenList = db.prepare<[], TokenRecord>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created, id`);
  const tokenUpsert = db.prepare<TokenRecord>(
    `INSERT INTO tokens (id, name, secret_hash, can_edit, status, expires_on, created, modified)
     VALUES (@id, @name, @secret_hash, @can_edit, @status, @expires_on, @created, @created)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
       can_edit = excluded.can_edit, status = excluded.status, expires_on = excluded.expires_on,
       modified = ${NOW_SQL}`,
  );
  const tokenAccounts = pluck<[string], string>(
    'SELECT account_id FROM token_accounts WHERE token_id = ? ORDER BY rowid',
  );
  const tokenOrgs = pluck<[string], string>(
    'SELECT organization_id FROM token_organizations WHERE token_id = ? ORDER BY rowid',
  );
  const allTokenAccounts = db.prepare<[], ScopeLink>(
    'SELECT token_id AS owner, account_id AS target FROM token_accounts ORDER BY rowid',
  );
  const allTokenOrgs = db.prepare<[], ScopeLink>(
    'SELECT token_id AS owner, organization_id AS target FROM token_organizations ORDER BY rowid',
  );
  const tokenAccountsClear = db.prepare<[string]>('DELETE FROM token_accounts WHERE token_id = ?');
  const tokenOrgsClear = db.prepare<[string]>('DELETE FROM token_organizations WHERE token_id = ?');
  const tokenAccountAdd = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO token_accounts (token_id, account_id) VALUES (?, ?)',
  );
  const tokenOrgAdd = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO token_organizations (token_id, organization_id) VALUES (?, ?)',
  );

  for (const kind of ['account', 'organization', 'none'] as const) {
    const user = targetSql('user', 'u', kind);
    userCredential.set(
      kind,
      db.prepare<[string, string], UserRecord & TargetAccountRecord>(
        `SELECT u.id, u.email, u.api_key_hash, u.created, ${user.columns}
         FROM users u ${user.join} WHERE u.email = ?`,
      ),
    );
    const token = targetSql('token', 't', kind);
    tokenCredential.set(
      kind,
      db.prepare<[string, string], TokenRecord & TargetAccountRecord>(
        `SELECT t.id, t.name, t.secret_hash, t.can_edit, t.status, t.expires_on, t.created, ${token.columns}
         FROM tokens t ${token.join} WHERE t.secret_hash = ?`,
      ),
    );
  }
  // Driven from the named ids (CROSS JOIN fixes the loop order, `+` keeps the organization index out):
  // one primary-key probe per id, never a walk over the organization's accounts.
  const members = pluck<[string, string], string>(
    `SELECT a.id FROM json_each(?) AS j CROSS JOIN accounts AS a ON a.id = j.value
     WHERE +a.organization_id = ?`,
  );
  // Batches pass their rows as one JSON array per statement: one call into SQLite for any number of rows.
  const accountsByIds = db.prepare<[string], AccountRecord>(
    `SELECT a.id, a.name, a.organization_id, a.entitlements, a.created, a.modified
     FROM json_each(?) AS j CROSS JOIN accounts AS a ON a.id = j.value`,
  );
  return {
    orgGet,
    orgList,
    orgUpsert,
    accountGet,
    accountList,
    accountListByOrg,
    accountUpsert,
    userByEmail,
    userList,
    userUpsert,
    userIdByEmail,
    userAccounts,
    userOrgs,
    allUserAccounts,
    allUserOrgs,
    userAccountsClear,
    userOrgsClear,
    userAccountAdd,
    userOrgAdd,
    tokenByHash,
    tokenById,
    tokenList,
    tokenUpsert,
    tokenAccounts,
    tokenOrgs,
    allTokenAccounts,
    allTokenOrgs,
    tokenAccountsClear,
    tokenOrgsClear,
    tokenAccountAdd,
    tokenOrgAdd,
    members,
    userCredential,
    tokenCredential,
    accountsByIds,
  };
}
