import { groupBy } from '../../lib/group-by.js';
import type Database from 'better-sqlite3';
import type { AuditEntry, AuditOf } from '../../platform/audit/entry.js';
import type { ResourceType } from '../../http/common-schemas.js';
import { planBatch, type PrincipalWrite } from '../../platform/tenancy/batch.js';
import type {
  AccountRow,
  BatchSummary,
  OrganizationRow,
  Scope,
  ScopeTarget,
  TenancyBatch,
  TenancyStore,
  TenancyWrites,
  TokenCredential,
  TokenRow,
  UserCredential,
  UserRow,
} from '../../platform/tenancy/store.js';
import { insertAudit } from './audit.js';
import { prepared } from './database.js';
import { enqueue, enqueueAccountRecipients } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

type Db = Database.Database;

interface AccountRecord {
  id: string;
  name: string;
  organization_id: string | null;
  entitlements: string | null;
  created: string;
  modified: string;
}

interface UserRecord {
  id: string;
  email: string;
  api_key_hash: string;
  created: string;
}

interface TokenRecord {
  id: string;
  name: string;
  secret_hash: string;
  can_edit: number;
  status: 'active' | 'disabled';
  expires_on: string | null;
  created: string;
}

interface ScopeLink {
  owner: string;
  target: string;
}

const ORG_COLUMNS = 'id, name, created, modified';
const ACCOUNT_COLUMNS = 'id, name, organization_id, entitlements, created, modified';
const USER_COLUMNS = 'id, email, api_key_hash, created';
const TOKEN_COLUMNS = 'id, name, secret_hash, can_edit, status, expires_on, created';

/**
 * Users and tokens have no `modified` field in their rows, so the store stamps updates itself; the value
 * is bookkeeping only and never reaches the API.
 */
const NOW_SQL = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

function toAccount(r: AccountRecord): AccountRow {
  return {
    ...r,
    entitlements: r.entitlements === null ? null : (JSON.parse(r.entitlements) as ResourceType[]),
  };
}

/** Compares stored entitlements as sets; null (every type) differs from any list. */
function sameEntitlements(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  const sa = new Set(JSON.parse(a) as string[]);
  const sb = new Set(JSON.parse(b) as string[]);
  return sa.size === sb.size && [...sb].every((t) => sa.has(t));
}

/** The stored columns of a user (its scope lives in user_accounts and user_organizations). */
function userRecord(row: Omit<UserRow, keyof Scope>): UserRecord {
  return { id: row.id, email: row.email, api_key_hash: row.api_key_hash, created: row.created };
}

/** The stored columns of a token (SQLite keeps the boolean as 0/1). */
function tokenRecord(row: Omit<TokenRow, keyof Scope>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    secret_hash: row.secret_hash,
    can_edit: row.can_edit ? 1 : 0,
    status: row.status,
    expires_on: row.expires_on,
    created: row.created,
  };
}

function toToken(r: TokenRecord, scope: Scope): TokenRow {
  return { ...r, can_edit: r.can_edit === 1, ...scope };
}

type Target = 'account' | 'organization' | 'none';

function targetOf(target: ScopeTarget): { kind: Target; id: string } {
  if (target === null) return { kind: 'none', id: '' };
  return 'account' in target
    ? { kind: 'account', id: target.account }
    : { kind: 'organization', id: target.organization };
}

/**
 * Whether the scope holds the target (bound as the first parameter) and, for an account target, that
 * account's row, joined through the scope link: the request never reads the account again.
 */
function targetSql(owner: 'user' | 'token', alias: string, kind: Target): { columns: string; join: string } {
  if (kind !== 'account') {
    return {
      columns: `${inScopeSql(owner, alias, kind)} AS in_scope, NULL AS account_name,
        NULL AS account_organization_id, NULL AS account_entitlements, NULL AS account_created,
        NULL AS account_modified`,
      join: '',
    };
  }
  return {
    columns: `l.account_id IS NOT NULL AS in_scope, ta.name AS account_name,
      ta.organization_id AS account_organization_id, ta.entitlements AS account_entitlements,
      ta.created AS account_created, ta.modified AS account_modified`,
    join: `LEFT JOIN ${owner}_accounts l ON l.${owner}_id = ${alias}.id AND l.account_id = ?
      LEFT JOIN accounts ta ON ta.id = l.account_id`,
  };
}

interface TargetAccountRecord {
  in_scope: number;
  account_name: string | null;
  account_organization_id: string | null;
  account_entitlements: string | null;
  account_created: string | null;
  account_modified: string | null;
}

/** The target account of a credential row, when the target is an existing account. */
function targetAccount(id: string, r: TargetAccountRecord): AccountRow | undefined {
  if (r.account_name === null) return undefined;
  return toAccount({
    id,
    name: r.account_name,
    organization_id: r.account_organization_id,
    entitlements: r.account_entitlements,
    created: r.account_created ?? '',
    modified: r.account_modified ?? '',
  });
}

function scoped(targetId: string, r: TargetAccountRecord): { in_scope: boolean; account?: AccountRow } {
  const account = targetAccount(targetId, r);
  return account ? { in_scope: r.in_scope === 1, account } : { in_scope: r.in_scope === 1 };
}

/** `EXISTS` over the scope table the target names; the id is bound as the first parameter. */
function inScopeSql(owner: 'user' | 'token', alias: string, kind: Target): string {
  if (kind === 'none') return '(0 AND ? IS NULL)';
  const table = `${owner}_${kind === 'account' ? 'accounts' : 'organizations'}`;
  return `EXISTS (SELECT 1 FROM ${table} WHERE ${owner}_id = ${alias}.id AND ${kind}_id = ?)`;
}

/** Groups link rows by owner; rowid order keeps each scope in the order it was written. */
function groupLinks(links: ScopeLink[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [owner, group] of groupBy(links, (l) => l.owner))
    out.set(
      owner,
      group.map((l) => l.target),
    );
  return out;
}

export class SqliteTenancyStore implements TenancyStore {
  private readonly orgGet;
  private readonly orgList;
  private readonly orgUpsert;

  private readonly accountGet;
  private readonly accountList;
  private readonly accountListByOrg;
  private readonly accountUpsert;

  private readonly userByEmail;
  private readonly userList;
  private readonly userUpsert;
  private readonly userIdByEmail;
  private readonly userAccounts;
  private readonly userOrgs;
  private readonly allUserAccounts;
  private readonly allUserOrgs;
  private readonly userAccountsClear;
  private readonly userOrgsClear;
  private readonly userAccountAdd;
  private readonly userOrgAdd;

  private readonly tokenByHash;
  private readonly tokenById;
  private readonly tokenList;
  private readonly tokenUpsert;
  private readonly tokenAccounts;
  private readonly tokenOrgs;
  private readonly allTokenAccounts;
  private readonly allTokenOrgs;
  private readonly tokenAccountsClear;
  private readonly tokenOrgsClear;
  private readonly tokenAccountAdd;
  private readonly tokenOrgAdd;

  private readonly userCredential = new Map<
    Target,
    Database.Statement<[string, string], UserRecord & TargetAccountRecord>
  >();
  private readonly tokenCredential = new Map<
    Target,
    Database.Statement<[string, string], TokenRecord & TargetAccountRecord>
  >();
  private readonly members;
  private readonly accountsByIds: Database.Statement<[string], AccountRecord>;
  private readonly applyBatchTx: (batch: TenancyBatch, audit?: AuditOf<TenancyWrites>) => BatchSummary;

  // Reads spanning several statements run in one transaction so they see a single snapshot.
  private readonly readUserTx: (email: string) => UserRow | undefined;
  private readonly listUsersTx: () => UserRow[];
  private readonly upsertOrganizationTx: (row: OrganizationRow, audit: readonly AuditEntry[]) => void;
  private readonly upsertUserTx: (row: UserRow, audit?: AuditOf<TenancyWrites>) => void;
  private readonly upsertAccountTx: (row: AccountRow, audit?: AuditOf<TenancyWrites>) => void;
  private readonly readTokenTx: (key: { id: string } | { hash: string }) => TokenRow | undefined;
  private readonly listTokensTx: () => TokenRow[];
  private readonly upsertTokenTx: (row: TokenRow, audit?: AuditOf<TenancyWrites>) => void;

  constructor(db: Db, timing: WorkTiming = dueNow) {
    this.orgGet = db.prepare<[string], OrganizationRow>(
      `SELECT ${ORG_COLUMNS} FROM organizations WHERE id = ?`,
    );
    this.orgList = db.prepare<[], OrganizationRow>(
      `SELECT ${ORG_COLUMNS} FROM organizations ORDER BY created, id`,
    );
    this.orgUpsert = db.prepare<OrganizationRow>(
      `INSERT INTO organizations (id, name, created, modified) VALUES (@id, @name, @created, @modified)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, modified = excluded.modified`,
    );

    this.accountGet = db.prepare<[string], AccountRecord>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`,
    );
    this.accountList = db.prepare<[], AccountRecord>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created, id`,
    );
    this.accountListByOrg = db.prepare<[string], AccountRecord>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = ? ORDER BY created, id`,
    );
    this.accountUpsert = db.prepare<AccountRecord>(
      `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
       VALUES (@id, @name, @organization_id, @entitlements, @created, @modified)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
         entitlements = excluded.entitlements, modified = excluded.modified`,
    );

    this.userByEmail = db.prepare<[string], UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`);
    this.userList = db.prepare<[], UserRecord>(`SELECT ${USER_COLUMNS} FROM users ORDER BY created, id`);
    // Keyed on email: an existing user keeps its id and creation time.
    this.userUpsert = db.prepare<UserRecord>(
      `INSERT INTO users (id, email, api_key_hash, created, modified) VALUES (@id, @email, @api_key_hash, @created, @created)
       ON CONFLICT (email) DO UPDATE SET api_key_hash = excluded.api_key_hash, modified = ${NOW_SQL}`,
    );
    this.userIdByEmail = db.prepare<[string], string>('SELECT id FROM users WHERE email = ?').pluck();
    this.userAccounts = db
      .prepare<[string], string>('SELECT account_id FROM user_accounts WHERE user_id = ? ORDER BY rowid')
      .pluck();
    this.userOrgs = db
      .prepare<[string], string>(
        'SELECT organization_id FROM user_organizations WHERE user_id = ? ORDER BY rowid',
      )
      .pluck();
    this.allUserAccounts = db.prepare<[], ScopeLink>(
      'SELECT user_id AS owner, account_id AS target FROM user_accounts ORDER BY rowid',
    );
    this.allUserOrgs = db.prepare<[], ScopeLink>(
      'SELECT user_id AS owner, organization_id AS target FROM user_organizations ORDER BY rowid',
    );
    this.userAccountsClear = db.prepare<[string]>('DELETE FROM user_accounts WHERE user_id = ?');
    this.userOrgsClear = db.prepare<[string]>('DELETE FROM user_organizations WHERE user_id = ?');
    this.userAccountAdd = db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO user_accounts (user_id, account_id) VALUES (?, ?)',
    );
    this.userOrgAdd = db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO user_organizations (user_id, organization_id) VALUES (?, ?)',
    );

    this.tokenByHash = db.prepare<[string], TokenRecord>(
      `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE secret_hash = ?`,
    );
    this.tokenById = db.prepare<[string], TokenRecord>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = ?`);
    this.tokenList = db.prepare<[], TokenRecord>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created, id`);
    this.tokenUpsert = db.prepare<TokenRecord>(
      `INSERT INTO tokens (id, name, secret_hash, can_edit, status, expires_on, created, modified)
       VALUES (@id, @name, @secret_hash, @can_edit, @status, @expires_on, @created, @created)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
         can_edit = excluded.can_edit, status = excluded.status, expires_on = excluded.expires_on,
         modified = ${NOW_SQL}`,
    );
    this.tokenAccounts = db
      .prepare<[string], string>('SELECT account_id FROM token_accounts WHERE token_id = ? ORDER BY rowid')
      .pluck();
    this.tokenOrgs = db
      .prepare<[string], string>(
        'SELECT organization_id FROM token_organizations WHERE token_id = ? ORDER BY rowid',
      )
      .pluck();
    this.allTokenAccounts = db.prepare<[], ScopeLink>(
      'SELECT token_id AS owner, account_id AS target FROM token_accounts ORDER BY rowid',
    );
    this.allTokenOrgs = db.prepare<[], ScopeLink>(
      'SELECT token_id AS owner, organization_id AS target FROM token_organizations ORDER BY rowid',
    );
    this.tokenAccountsClear = db.prepare<[string]>('DELETE FROM token_accounts WHERE token_id = ?');
    this.tokenOrgsClear = db.prepare<[string]>('DELETE FROM token_organizations WHERE token_id = ?');
    this.tokenAccountAdd = db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO token_accounts (token_id, account_id) VALUES (?, ?)',
    );
    this.tokenOrgAdd = db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO token_organizations (token_id, organization_id) VALUES (?, ?)',
    );

    for (const kind of ['account', 'organization', 'none'] as const) {
      const user = targetSql('user', 'u', kind);
      this.userCredential.set(
        kind,
        db.prepare<[string, string], UserRecord & TargetAccountRecord>(
          `SELECT u.id, u.email, u.api_key_hash, u.created, ${user.columns}
           FROM users u ${user.join} WHERE u.email = ?`,
        ),
      );
      const token = targetSql('token', 't', kind);
      this.tokenCredential.set(
        kind,
        db.prepare<[string, string], TokenRecord & TargetAccountRecord>(
          `SELECT t.id, t.name, t.secret_hash, t.can_edit, t.status, t.expires_on, t.created, ${token.columns}
           FROM tokens t ${token.join} WHERE t.secret_hash = ?`,
        ),
      );
    }
    this.members = db
      // Driven from the named ids (CROSS JOIN fixes the loop order, `+` keeps the organization index out):
      // one primary-key probe per id, never a walk over the organization's accounts.
      .prepare<[string, string], string>(
        `SELECT a.id FROM json_each(?) AS j CROSS JOIN accounts AS a ON a.id = j.value
         WHERE +a.organization_id = ?`,
      )
      .pluck();

    this.readUserTx = db.transaction((email: string) => {
      const r = this.userByEmail.get(email);
      return r && { ...r, accounts: this.userAccounts.all(r.id), organizations: this.userOrgs.all(r.id) };
    });
    this.listUsersTx = db.transaction(() => {
      const users = this.userList.all();
      const accounts = groupLinks(this.allUserAccounts.all());
      const orgs = groupLinks(this.allUserOrgs.all());
      return users.map((u) => ({
        ...u,
        accounts: accounts.get(u.id) ?? [],
        organizations: orgs.get(u.id) ?? [],
      }));
    });
    this.upsertUserTx = db.transaction((row: UserRow, audit?: AuditOf<TenancyWrites>) => {
      const before = audit && this.readUserTx(row.email);
      this.userUpsert.run(userRecord(row));
      // The email may already belong to a user with another id; scope rows follow the stored one.
      const userId = this.userIdByEmail.get(row.email) ?? row.id;
      this.userAccountsClear.run(userId);
      this.userOrgsClear.run(userId);
      for (const a of row.accounts) this.userAccountAdd.run(userId, a);
      for (const o of row.organizations) this.userOrgAdd.run(userId, o);
      if (audit) {
        const after = { ...row, id: userId, created: before?.created ?? row.created };
        insertAudit(db, audit(this.writes({ users: [{ before, after }] })));
      }
    });
    this.upsertOrganizationTx = db.transaction((row: OrganizationRow, audit: readonly AuditEntry[]) => {
      this.orgUpsert.run({ id: row.id, name: row.name, created: row.created, modified: row.modified });
      insertAudit(db, audit);
    });

    // Membership and entitlements decide what an account receives, so their changes queue reconciler work
    // in the same transaction: a crash between the two can never leave a move unreconciled.
    this.upsertAccountTx = db.transaction((row: AccountRow, audit?: AuditOf<TenancyWrites>) => {
      const before = this.accountGet.get(row.id);
      const entitlements = row.entitlements === null ? null : JSON.stringify(row.entitlements);
      this.accountUpsert.run({
        id: row.id,
        name: row.name,
        organization_id: row.organization_id,
        entitlements,
        created: row.created,
        modified: row.modified,
      });
      const due = timing.dueAt();
      if (!before || before.organization_id !== row.organization_id) {
        // A new member must receive the organization's shares; a leaver must lose them.
        for (const org of new Set([before?.organization_id ?? null, row.organization_id])) {
          if (org !== null) enqueue(db, 'organization', org, due);
        }
        // The old organization's sync finds the leaver's recipients from this account's side.
        if (before?.organization_id) {
          prepared(
            db,
            'INSERT INTO organization_departures (organization_id, account_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
          ).run(before.organization_id, row.id);
        }
      }
      if (before && !sameEntitlements(before.entitlements, entitlements)) {
        // Terminal errors (the missing-entitlement one above all) become retryable. The row itself stays:
        // it may still record a version applied in the account, which removal and share deletion rely on.
        prepared(
          db,
          `UPDATE recipient_resources SET error_version = NULL
           WHERE terminal = 1 AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = ?)`,
        ).run(row.id);
        enqueueAccountRecipients(db, row.id, due);
      }
      if (audit) {
        const after = { ...row, created: before?.created ?? row.created };
        insertAudit(db, audit(this.writes({ accounts: [{ before: before && toAccount(before), after }] })));
      }
    });

    this.readTokenTx = db.transaction((key: { id: string } | { hash: string }) => {
      const r = 'id' in key ? this.tokenById.get(key.id) : this.tokenByHash.get(key.hash);
      return (
        r && toToken(r, { accounts: this.tokenAccounts.all(r.id), organizations: this.tokenOrgs.all(r.id) })
      );
    });
    this.listTokensTx = db.transaction(() => {
      const tokens = this.tokenList.all();
      const accounts = groupLinks(this.allTokenAccounts.all());
      const orgs = groupLinks(this.allTokenOrgs.all());
      return tokens.map((t) =>
        toToken(t, { accounts: accounts.get(t.id) ?? [], organizations: orgs.get(t.id) ?? [] }),
      );
    });
    this.upsertTokenTx = db.transaction((row: TokenRow, audit?: AuditOf<TenancyWrites>) => {
      const before = audit && this.readTokenTx({ id: row.id });
      this.tokenUpsert.run(tokenRecord(row));
      this.tokenAccountsClear.run(row.id);
      this.tokenOrgsClear.run(row.id);
      for (const a of row.accounts) this.tokenAccountAdd.run(row.id, a);
      for (const o of row.organizations) this.tokenOrgAdd.run(row.id, o);
      if (audit) {
        const after = { ...row, created: before?.created ?? row.created };
        insertAudit(db, audit(this.writes({ tokens: [{ before, after }] })));
      }
    });

    // Batches pass their rows as one JSON array per statement: one call into SQLite for any number of rows.
    this.accountsByIds = db.prepare<[string], AccountRecord>(
      `SELECT a.id, a.name, a.organization_id, a.entitlements, a.created, a.modified
       FROM json_each(?) AS j CROSS JOIN accounts AS a ON a.id = j.value`,
    );
    const accountsUpsert = db.prepare<[string]>(
      `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
       FROM json_each(?) WHERE true
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
         entitlements = excluded.entitlements, modified = excluded.modified`,
    );
    const scopeStatements = (owner: 'user' | 'token') => {
      const statements = (kind: 'account' | 'organization') => {
        const table = `${owner}_${kind === 'account' ? 'accounts' : 'organizations'}`;
        return {
          remove: db.prepare<[string, string]>(
            `DELETE FROM ${table} WHERE ${owner}_id = ? AND ${kind}_id IN (SELECT value FROM json_each(?))`,
          ),
          // json_each walks the array in order, so the scope keeps the order it is given in.
          add: db.prepare<[string, string]>(
            `INSERT OR IGNORE INTO ${table} (${owner}_id, ${kind}_id) SELECT ?, value FROM json_each(?)`,
          ),
        };
      };
      return { accounts: statements('account'), organizations: statements('organization') };
    };
    const userScope = scopeStatements('user');
    const tokenScope = scopeStatements('token');
    const writeScope = (owner: string, w: PrincipalWrite<UserRow | TokenRow>, stmts: typeof userScope) => {
      const run = (stmt: Database.Statement<[string, string]>, ids: string[]) => {
        if (ids.length > 0) stmt.run(owner, JSON.stringify(ids));
      };
      run(stmts.accounts.remove, w.removeAccounts);
      run(stmts.organizations.remove, w.removeOrganizations);
      run(stmts.accounts.add, w.addAccounts);
      run(stmts.organizations.add, w.addOrganizations);
    };
    const clearTerminal = db.prepare<[string]>(
      `UPDATE recipient_resources SET error_version = NULL
       WHERE terminal = 1 AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = ?)`,
    );
    // One IMMEDIATE transaction: the write lock is taken before anything is read, so processes applying
    // the same file at once run one after the other and the later one finds nothing to change.
    const batchTx = db.transaction((batch: TenancyBatch, audit?: AuditOf<TenancyWrites>): BatchSummary => {
      const organizations = new Map<string, OrganizationRow>();
      for (const o of batch.organizations) {
        const r = this.orgGet.get(o.id);
        if (r) organizations.set(r.id, r);
      }
      const accounts = new Map<string, AccountRow>();
      for (const r of this.accountsByIds.all(JSON.stringify(batch.accounts.map((a) => a.id)))) {
        accounts.set(r.id, toAccount(r));
      }
      const users = new Map<string, UserRow>();
      for (const u of batch.users) {
        const r = this.readUserTx(u.email);
        if (r) users.set(r.email, r);
      }
      const tokens = new Map<string, TokenRow>();
      for (const t of batch.tokens) {
        const r = this.readTokenTx({ hash: t.secret_hash });
        if (r) tokens.set(r.secret_hash, r);
      }
      const plan = planBatch(batch, { organizations, accounts, users, tokens });
      for (const o of plan.organizations) this.orgUpsert.run(o);
      if (plan.accounts.length > 0) {
        accountsUpsert.run(
          JSON.stringify(
            plan.accounts.map((a) => [
              a.id,
              a.name,
              a.organization_id,
              a.entitlements === null ? null : JSON.stringify(a.entitlements),
              a.created,
              a.modified,
            ]),
          ),
        );
      }
      for (const d of plan.departures) {
        prepared(
          db,
          'INSERT INTO organization_departures (organization_id, account_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
        ).run(d.organization_id, d.account_id);
      }
      const due = timing.dueAt();
      for (const org of plan.organizationWork) enqueue(db, 'organization', org, due);
      for (const id of plan.entitlementsChanged) {
        clearTerminal.run(id);
        enqueueAccountRecipients(db, id, due);
      }
      for (const w of plan.users) {
        if (w.writeRow) {
          this.userUpsert.run(userRecord(w.row));
        }
        writeScope(w.row.id, w, userScope);
      }
      for (const w of plan.tokens) {
        if (w.writeRow) {
          this.tokenUpsert.run(tokenRecord(w.row));
        }
        writeScope(w.row.id, w, tokenScope);
      }
      if (audit) insertAudit(db, audit(this.writes(plan.written)));
      return plan.summary;
    });
    this.applyBatchTx = (batch, audit) => batchTx.immediate(batch, audit);
  }

  /** Completes what a write changed with the organizations of the accounts its users and tokens name. */
  private writes(changed: Partial<Omit<TenancyWrites, 'organizationOf'>>): TenancyWrites {
    const users = changed.users ?? [];
    const tokens = changed.tokens ?? [];
    const ids = new Set<string>();
    for (const { before, after } of [...users, ...tokens]) {
      for (const id of before?.accounts ?? []) ids.add(id);
      for (const id of after.accounts) ids.add(id);
    }
    const organizationOf = new Map<string, string | null>();
    if (ids.size > 0) {
      for (const r of this.accountsByIds.all(JSON.stringify([...ids]))) {
        organizationOf.set(r.id, r.organization_id);
      }
    }
    return { accounts: changed.accounts ?? [], users, tokens, organizationOf };
  }

  async getOrganization(id: string): Promise<OrganizationRow | undefined> {
    return this.orgGet.get(id);
  }

  async listOrganizations(): Promise<OrganizationRow[]> {
    return this.orgList.all();
  }

  async upsertOrganization(row: OrganizationRow, audit: readonly AuditEntry[] = []): Promise<void> {
    this.upsertOrganizationTx(row, audit);
  }

  async getAccount(id: string): Promise<AccountRow | undefined> {
    const r = this.accountGet.get(id);
    return r && toAccount(r);
  }

  async listAccounts(organizationId?: string): Promise<AccountRow[]> {
    const rows =
      organizationId === undefined ? this.accountList.all() : this.accountListByOrg.all(organizationId);
    return rows.map(toAccount);
  }

  /**
   * Also queues reconciler work: the old and new organization when the account joins, leaves or moves
   * (or is created inside one), and the account's recipients when its entitlements change.
   */
  async upsertAccount(row: AccountRow, audit?: AuditOf<TenancyWrites>): Promise<void> {
    this.upsertAccountTx(row, audit);
  }

  async organizationMembers(organizationId: string, accountIds: readonly string[]): Promise<Set<string>> {
    if (accountIds.length === 0) return new Set();
    return new Set(this.members.all(JSON.stringify(accountIds), organizationId));
  }

  async findUserCredential(email: string, target: ScopeTarget): Promise<UserCredential | undefined> {
    const { kind, id } = targetOf(target);
    const r = this.userCredential.get(kind)?.get(id, email);
    return (
      r && { id: r.id, email: r.email, api_key_hash: r.api_key_hash, created: r.created, ...scoped(id, r) }
    );
  }

  async findTokenCredential(secretHash: string, target: ScopeTarget): Promise<TokenCredential | undefined> {
    const { kind, id } = targetOf(target);
    const r = this.tokenCredential.get(kind)?.get(id, secretHash);
    if (!r) return undefined;
    const { id: tokenId, name, secret_hash, status, expires_on, created } = r;
    return {
      id: tokenId,
      name,
      secret_hash,
      status,
      expires_on,
      created,
      can_edit: r.can_edit === 1,
      ...scoped(id, r),
    };
  }

  async applyBatch(batch: TenancyBatch, audit?: AuditOf<TenancyWrites>): Promise<BatchSummary> {
    return this.applyBatchTx(batch, audit);
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    return this.readUserTx(email);
  }

  async listUsers(): Promise<UserRow[]> {
    return this.listUsersTx();
  }

  async upsertUser(row: UserRow, audit?: AuditOf<TenancyWrites>): Promise<void> {
    this.upsertUserTx(row, audit);
  }

  async findTokenByHash(secretHash: string): Promise<TokenRow | undefined> {
    return this.readTokenTx({ hash: secretHash });
  }

  async getToken(id: string): Promise<TokenRow | undefined> {
    return this.readTokenTx({ id });
  }

  async listTokens(): Promise<TokenRow[]> {
    return this.listTokensTx();
  }

  async upsertToken(row: TokenRow, audit?: AuditOf<TenancyWrites>): Promise<void> {
    this.upsertTokenTx(row, audit);
  }
}
