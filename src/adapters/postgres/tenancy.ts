import type pg from 'pg';
import type { AuditEntry, AuditOf } from '../../platform/audit/entry.js';
import type { ResourceType } from '../../http/common-schemas.js';
import { planBatch, type Existing } from '../../platform/tenancy/batch.js';
import type {
  AccountRow,
  BatchSummary,
  OrganizationRow,
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
import { named, transaction, type Queryable } from './database.js';
import { enqueue, enqueueAccountRecipients, enqueueMany, ON_CONFLICT } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

const ORG_COLUMNS = 'id, name, created, modified';
const ACCOUNT_COLUMNS = 'id, name, organization_id, entitlements, created, modified';

/**
 * Scope links have no position column: they are read back in physical order, which is the order one
 * upsert wrote them in (SQLite reads them in rowid order). Scopes are used as sets everywhere; the order
 * only shows in listings.
 */
const USER_SCOPE = `
  COALESCE((SELECT array_agg(l.account_id::text ORDER BY l.ctid) FROM user_accounts l WHERE l.user_id = u.id),
    '{}') AS accounts,
  COALESCE((SELECT array_agg(l.organization_id::text ORDER BY l.ctid) FROM user_organizations l
    WHERE l.user_id = u.id), '{}') AS organizations`;
const TOKEN_SCOPE = `
  COALESCE((SELECT array_agg(l.account_id::text ORDER BY l.ctid) FROM token_accounts l WHERE l.token_id = t.id),
    '{}') AS accounts,
  COALESCE((SELECT array_agg(l.organization_id::text ORDER BY l.ctid) FROM token_organizations l
    WHERE l.token_id = t.id), '{}') AS organizations`;

// One statement each, so a user or token and its scope come from a single snapshot.
const USER_SELECT = `SELECT u.id, u.email, u.api_key_hash, u.created, ${USER_SCOPE} FROM users u`;
const TOKEN_SELECT = `SELECT t.id, t.name, t.secret_hash, t.can_edit, t.status,
  -- Expiries are whole seconds, written and returned as Cloudflare does: 2030-01-01T00:00:00Z.
  to_char(t.expires_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_on, t.created, ${TOKEN_SCOPE}
  FROM tokens t`;

const ORG_GET = `SELECT ${ORG_COLUMNS} FROM organizations WHERE id = $1`;
const ORG_LIST = `SELECT ${ORG_COLUMNS} FROM organizations ORDER BY created, id`;
const ORG_UPSERT = `INSERT INTO organizations (id, name, created, modified) VALUES ($1, $2, $3, $4)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, modified = excluded.modified`;

const ACCOUNT_GET = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`;
const ACCOUNT_LOCK = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE`;
const ACCOUNT_LIST = `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created, id`;
const ACCOUNT_LIST_BY_ORG = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = $1 ORDER BY created, id`;
const ACCOUNT_UPSERT = `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
  VALUES ($1, $2, $3, $4::jsonb, $5, $6)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
    entitlements = excluded.entitlements, modified = excluded.modified`;
const CLEAR_TERMINAL_ERRORS = `UPDATE recipient_resources SET error_version = NULL
  WHERE terminal AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = $1)`;

const USER_BY_EMAIL = `${USER_SELECT} WHERE u.email = $1`;
const USER_LOCK = `${USER_BY_EMAIL} FOR UPDATE OF u`;
const USER_LIST = `${USER_SELECT} ORDER BY u.created, u.id`;
// Keyed on email: an existing user keeps its id and creation time. `modified` is bookkeeping only.
const USER_UPSERT = `INSERT INTO users (id, email, api_key_hash, created, modified) VALUES ($1, $2, $3, $4, $4)
  ON CONFLICT (email) DO UPDATE SET api_key_hash = excluded.api_key_hash, modified = now()
  RETURNING id`;
const USER_ACCOUNTS_CLEAR = 'DELETE FROM user_accounts WHERE user_id = $1';
const USER_ORGS_CLEAR = 'DELETE FROM user_organizations WHERE user_id = $1';
const USER_ACCOUNTS_ADD = `INSERT INTO user_accounts (user_id, account_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;
const USER_ORGS_ADD = `INSERT INTO user_organizations (user_id, organization_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;

const TOKEN_BY_HASH = `${TOKEN_SELECT} WHERE t.secret_hash = $1`;
const TOKEN_BY_ID = `${TOKEN_SELECT} WHERE t.id = $1`;
const TOKEN_LOCK = `${TOKEN_BY_ID} FOR UPDATE OF t`;
const TOKEN_LIST = `${TOKEN_SELECT} ORDER BY t.created, t.id`;
const TOKEN_UPSERT = `INSERT INTO tokens (id, name, secret_hash, can_edit, status, expires_on, created, modified)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
    can_edit = excluded.can_edit, status = excluded.status, expires_on = excluded.expires_on, modified = now()`;
const TOKEN_ACCOUNTS_CLEAR = 'DELETE FROM token_accounts WHERE token_id = $1';
const TOKEN_ORGS_CLEAR = 'DELETE FROM token_organizations WHERE token_id = $1';
const TOKEN_ACCOUNTS_ADD = `INSERT INTO token_accounts (token_id, account_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;
const TOKEN_ORGS_ADD = `INSERT INTO token_organizations (token_id, organization_id)
  SELECT $1, x FROM unnest($2::text[]) WITH ORDINALITY AS u (x, i) ORDER BY i ON CONFLICT DO NOTHING`;

// Authentication: the principal and whether its scope holds the one account or organization the request
// names, in one round trip. The scope tables' primary keys (owner, target) answer the EXISTS.
const USER_CREDENTIAL_COLUMNS = 'u.id, u.email, u.api_key_hash, u.created';
const TOKEN_CREDENTIAL_COLUMNS = `t.id, t.name, t.secret_hash, t.can_edit, t.status,
  to_char(t.expires_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_on, t.created`;
// An account target's row comes with the credential, joined through the scope link that authorizes it,
// so the request never reads the account again (and an out-of-scope account is not read at all).
const TARGET_ACCOUNT_COLUMNS = `l.account_id IS NOT NULL AS in_scope, ta.name AS account_name,
  ta.organization_id AS account_organization_id, ta.entitlements AS account_entitlements,
  ta.created AS account_created, ta.modified AS account_modified`;
const CREDENTIAL = {
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
const ORG_MEMBERS = `SELECT a.id FROM unnest($2::char(32)[]) AS u (id) JOIN accounts a ON a.id = u.id
  WHERE a.organization_id = $1`;

// Batches (bootstrap files): set-based statements over arrays, a handful of round trips whatever the size.
/** Any key works as long as every rshare node uses the same one: "rsbat" in ASCII. */
const BATCH_LOCK = 0x7273626174;
const ORGS_BY_IDS = `SELECT ${ORG_COLUMNS} FROM organizations WHERE id = ANY($1::char(32)[])`;
const ACCOUNTS_BY_IDS = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1::char(32)[])`;
const ACCOUNTS_LOCK_BY_IDS = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1::char(32)[])
  ORDER BY id FOR UPDATE`;
const USERS_BY_EMAILS = `${USER_SELECT} WHERE u.email = ANY($1::text[])`;
const TOKENS_BY_HASHES = `${TOKEN_SELECT} WHERE t.secret_hash = ANY($1::char(64)[])`;
const ORGS_UPSERT = `INSERT INTO organizations (id, name, created, modified)
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, modified = excluded.modified`;
const ACCOUNTS_UPSERT = `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
  SELECT id, name, org, e::jsonb, c, m
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
    AS u (id, name, org, e, c, m)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
    entitlements = excluded.entitlements, modified = excluded.modified`;
const CLEAR_TERMINAL_ERRORS_MANY = `UPDATE recipient_resources SET error_version = NULL
  WHERE terminal AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = ANY($1::char(32)[]))`;
const ENQUEUE_ACCOUNTS_RECIPIENTS = `INSERT INTO reconcile_work (kind, id, due_at)
  SELECT 'recipient', id, $2::bigint FROM share_recipients
  WHERE account_id = ANY($1::char(32)[]) AND desired_status = 'associated'
  ${ON_CONFLICT}`;
const USER_ACCOUNTS_REMOVE =
  'DELETE FROM user_accounts WHERE user_id = $1 AND account_id = ANY($2::char(32)[])';
const USER_ORGS_REMOVE = `DELETE FROM user_organizations
  WHERE user_id = $1 AND organization_id = ANY($2::char(32)[])`;
const TOKEN_ACCOUNTS_REMOVE =
  'DELETE FROM token_accounts WHERE token_id = $1 AND account_id = ANY($2::char(32)[])';
const TOKEN_ORGS_REMOVE = `DELETE FROM token_organizations
  WHERE token_id = $1 AND organization_id = ANY($2::char(32)[])`;

/** Compares entitlements as sets; null (every type) differs from any list. */
function sameEntitlements(a: ResourceType[] | null, b: ResourceType[] | null): boolean {
  if (a === null || b === null) return a === b;
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sb].every((t) => sa.has(t));
}

function credentialQuery(
  texts: Record<'account' | 'organization' | 'none', string>,
  key: string,
  target: ScopeTarget,
): [string, unknown[]] {
  if (target === null) return [texts.none, [key]];
  return 'account' in target
    ? [texts.account, [key, target.account]]
    : [texts.organization, [key, target.organization]];
}

interface TargetAccountRecord {
  account_name?: string | null;
  account_organization_id?: string | null;
  account_entitlements?: ResourceType[] | null;
  account_created?: string | null;
  account_modified?: string | null;
}

/** A credential row without the target account's columns, and that account when the target is one. */
function withTargetAccount<T extends { in_scope: boolean }>(
  row: T & TargetAccountRecord,
  target: ScopeTarget,
): T {
  const { account_name, account_organization_id, account_entitlements, account_created, account_modified } =
    row;
  const credential = { ...row };
  for (const k of [
    'account_name',
    'account_organization_id',
    'account_entitlements',
    'account_created',
    'account_modified',
  ] as const)
    delete credential[k];
  if (target === null || !('account' in target) || account_name == null) return credential;
  return {
    ...credential,
    account: {
      id: target.account,
      name: account_name,
      organization_id: account_organization_id ?? null,
      entitlements: account_entitlements ?? null,
      created: account_created ?? '',
      modified: account_modified ?? '',
    },
  };
}

/** Completes what a write changed with the organizations of the accounts its users and tokens name. */
async function writes(
  client: Queryable,
  changed: Partial<Omit<TenancyWrites, 'organizationOf'>>,
): Promise<TenancyWrites> {
  const users = changed.users ?? [];
  const tokens = changed.tokens ?? [];
  const ids = new Set<string>();
  for (const { before, after } of [...users, ...tokens]) {
    for (const id of before?.accounts ?? []) ids.add(id);
    for (const id of after.accounts) ids.add(id);
  }
  const organizationOf = new Map<string, string | null>();
  if (ids.size > 0) {
    const { rows } = await client.query<AccountRow>(named(ACCOUNTS_BY_IDS, [[...ids]]));
    for (const r of rows) organizationOf.set(r.id, r.organization_id);
  }
  return { accounts: changed.accounts ?? [], users, tokens, organizationOf };
}

const DEPART = `INSERT INTO organization_departures (organization_id, account_id) VALUES ($1, $2)
  ON CONFLICT DO NOTHING`;

export class PgTenancyStore implements TenancyStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly timing: WorkTiming = dueNow,
  ) {}

  async getOrganization(id: string): Promise<OrganizationRow | undefined> {
    return (await this.pool.query<OrganizationRow>(named(ORG_GET, [id]))).rows[0];
  }

  async listOrganizations(): Promise<OrganizationRow[]> {
    return (await this.pool.query<OrganizationRow>(named(ORG_LIST))).rows;
  }

  async upsertOrganization(row: OrganizationRow, audit: readonly AuditEntry[] = []): Promise<void> {
    if (audit.length === 0) {
      await this.pool.query(named(ORG_UPSERT, [row.id, row.name, row.created, row.modified]));
      return;
    }
    await transaction(this.pool, async (client) => {
      await client.query(named(ORG_UPSERT, [row.id, row.name, row.created, row.modified]));
      await insertAudit(client, audit);
    });
  }

  async getAccount(id: string): Promise<AccountRow | undefined> {
    return (await this.pool.query<AccountRow>(named(ACCOUNT_GET, [id]))).rows[0];
  }

  async listAccounts(organizationId?: string): Promise<AccountRow[]> {
    const res =
      organizationId === undefined
        ? await this.pool.query<AccountRow>(named(ACCOUNT_LIST))
        : await this.pool.query<AccountRow>(named(ACCOUNT_LIST_BY_ORG, [organizationId]));
    return res.rows;
  }

  /**
   * Also queues reconciler work: the old and new organization when the account joins, leaves or moves
   * (or is created inside one), and the account's recipients when its entitlements change. Membership
   * and entitlements decide what an account receives, so the work is queued in the same transaction: a
   * crash between the two can never leave a move unreconciled.
   */
  async upsertAccount(row: AccountRow, audit?: AuditOf<TenancyWrites>): Promise<void> {
    await transaction(this.pool, async (client) => {
      const before = (await client.query<AccountRow>(named(ACCOUNT_LOCK, [row.id]))).rows[0];
      await client.query(
        named(ACCOUNT_UPSERT, [
          row.id,
          row.name,
          row.organization_id,
          row.entitlements === null ? null : JSON.stringify(row.entitlements),
          row.created,
          row.modified,
        ]),
      );
      const due = this.timing.dueAt();
      if (!before || before.organization_id !== row.organization_id) {
        // A new member must receive the organization's shares; a leaver must lose them.
        for (const org of new Set([before?.organization_id ?? null, row.organization_id])) {
          if (org !== null) await enqueue(client, 'organization', org, due);
        }
        // The old organization's sync finds the leaver's recipients from this account's side.
        if (before?.organization_id) await client.query(named(DEPART, [before.organization_id, row.id]));
      }
      if (before && !sameEntitlements(before.entitlements, row.entitlements)) {
        // Terminal errors (the missing-entitlement one above all) become retryable. The row itself stays:
        // it may still record a version applied in the account, which removal and share deletion rely on.
        await client.query(named(CLEAR_TERMINAL_ERRORS, [row.id]));
        await enqueueAccountRecipients(client, row.id, due);
      }
      if (audit) {
        const after = { ...row, created: before?.created ?? row.created };
        await insertAudit(client, audit(await writes(client, { accounts: [{ before, after }] })));
      }
    });
  }

  async organizationMembers(organizationId: string, accountIds: readonly string[]): Promise<Set<string>> {
    if (accountIds.length === 0) return new Set();
    const { rows } = await this.pool.query<{ id: string }>(named(ORG_MEMBERS, [organizationId, accountIds]));
    return new Set(rows.map((r) => r.id));
  }

  async findUserCredential(email: string, target: ScopeTarget): Promise<UserCredential | undefined> {
    const [text, values] = credentialQuery(CREDENTIAL.user, email, target);
    const row = (await this.pool.query<UserCredential & TargetAccountRecord>(named(text, values))).rows[0];
    return row && withTargetAccount(row, target);
  }

  async findTokenCredential(secretHash: string, target: ScopeTarget): Promise<TokenCredential | undefined> {
    const [text, values] = credentialQuery(CREDENTIAL.token, secretHash, target);
    const row = (await this.pool.query<TokenCredential & TargetAccountRecord>(named(text, values))).rows[0];
    return row && withTargetAccount(row, target);
  }

  /**
   * Under a transaction-scoped advisory lock, so nodes applying the same file at once run one after the
   * other (each statement of the later one sees what the earlier committed, and finds nothing to change).
   */
  async applyBatch(batch: TenancyBatch, audit?: AuditOf<TenancyWrites>): Promise<BatchSummary> {
    return transaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [BATCH_LOCK]);
      const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r]));
      const existing: Existing = {
        organizations: byId(
          (await client.query<OrganizationRow>(named(ORGS_BY_IDS, [batch.organizations.map((o) => o.id)])))
            .rows,
        ),
        accounts: byId(
          (await client.query<AccountRow>(named(ACCOUNTS_BY_IDS, [batch.accounts.map((a) => a.id)]))).rows,
        ),
        users: new Map(
          (await client.query<UserRow>(named(USERS_BY_EMAILS, [batch.users.map((u) => u.email)]))).rows.map(
            (u) => [u.email, u],
          ),
        ),
        tokens: new Map(
          (
            await client.query<TokenRow>(named(TOKENS_BY_HASHES, [batch.tokens.map((t) => t.secret_hash)]))
          ).rows.map((t) => [t.secret_hash, t]),
        ),
      };
      let plan = planBatch(batch, existing);
      // Accounts about to change are locked and planned again from their locked state, so a concurrent
      // move (CLI) is never overwritten without queueing its organization.
      const stored = plan.accounts.filter((a) => existing.accounts.has(a.id)).map((a) => a.id);
      if (stored.length > 0) {
        const locked = (await client.query<AccountRow>(named(ACCOUNTS_LOCK_BY_IDS, [stored]))).rows;
        const accounts = new Map(existing.accounts);
        for (const r of locked) accounts.set(r.id, r);
        plan = planBatch(batch, { ...existing, accounts });
      }
      if (plan.organizations.length > 0) {
        const o = plan.organizations;
        await client.query(
          named(ORGS_UPSERT, [
            o.map((r) => r.id),
            o.map((r) => r.name),
            o.map((r) => r.created),
            o.map((r) => r.modified),
          ]),
        );
      }
      if (plan.accounts.length > 0) {
        const a = plan.accounts;
        await client.query(
          named(ACCOUNTS_UPSERT, [
            a.map((r) => r.id),
            a.map((r) => r.name),
            a.map((r) => r.organization_id),
            a.map((r) => (r.entitlements === null ? null : JSON.stringify(r.entitlements))),
            a.map((r) => r.created),
            a.map((r) => r.modified),
          ]),
        );
      }
      for (const d of plan.departures) {
        await client.query(named(DEPART, [d.organization_id, d.account_id]));
      }
      const due = this.timing.dueAt();
      await enqueueMany(client, 'organization', plan.organizationWork, due);
      if (plan.entitlementsChanged.length > 0) {
        await client.query(named(CLEAR_TERMINAL_ERRORS_MANY, [plan.entitlementsChanged]));
        await client.query(named(ENQUEUE_ACCOUNTS_RECIPIENTS, [plan.entitlementsChanged, due]));
      }
      for (const w of plan.users) {
        let userId = w.row.id;
        if (w.writeRow) {
          const { rows } = await client.query<{ id: string }>(
            named(USER_UPSERT, [w.row.id, w.row.email, w.row.api_key_hash, w.row.created]),
          );
          userId = rows[0]?.id ?? userId;
        }
        if (w.removeAccounts.length > 0)
          await client.query(named(USER_ACCOUNTS_REMOVE, [userId, w.removeAccounts]));
        if (w.removeOrganizations.length > 0)
          await client.query(named(USER_ORGS_REMOVE, [userId, w.removeOrganizations]));
        if (w.addAccounts.length > 0) await client.query(named(USER_ACCOUNTS_ADD, [userId, w.addAccounts]));
        if (w.addOrganizations.length > 0)
          await client.query(named(USER_ORGS_ADD, [userId, w.addOrganizations]));
      }
      for (const w of plan.tokens) {
        const r = w.row;
        if (w.writeRow) {
          await client.query(
            named(TOKEN_UPSERT, [r.id, r.name, r.secret_hash, r.can_edit, r.status, r.expires_on, r.created]),
          );
        }
        if (w.removeAccounts.length > 0)
          await client.query(named(TOKEN_ACCOUNTS_REMOVE, [r.id, w.removeAccounts]));
        if (w.removeOrganizations.length > 0)
          await client.query(named(TOKEN_ORGS_REMOVE, [r.id, w.removeOrganizations]));
        if (w.addAccounts.length > 0) await client.query(named(TOKEN_ACCOUNTS_ADD, [r.id, w.addAccounts]));
        if (w.addOrganizations.length > 0)
          await client.query(named(TOKEN_ORGS_ADD, [r.id, w.addOrganizations]));
      }
      if (audit) await insertAudit(client, audit(await writes(client, plan.written)));
      return plan.summary;
    });
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    return (await this.pool.query<UserRow>(named(USER_BY_EMAIL, [email]))).rows[0];
  }

  async listUsers(): Promise<UserRow[]> {
    return (await this.pool.query<UserRow>(named(USER_LIST))).rows;
  }

  async upsertUser(row: UserRow, audit?: AuditOf<TenancyWrites>): Promise<void> {
    await transaction(this.pool, async (client) => {
      const before = audit && (await client.query<UserRow>(named(USER_LOCK, [row.email]))).rows[0];
      // The email may already belong to a user with another id; scope rows follow the stored one.
      const { rows } = await client.query<{ id: string }>(
        named(USER_UPSERT, [row.id, row.email, row.api_key_hash, row.created]),
      );
      const userId = rows[0]?.id ?? row.id;
      await client.query(named(USER_ACCOUNTS_CLEAR, [userId]));
      await client.query(named(USER_ORGS_CLEAR, [userId]));
      await client.query(named(USER_ACCOUNTS_ADD, [userId, row.accounts]));
      await client.query(named(USER_ORGS_ADD, [userId, row.organizations]));
      if (audit) {
        const after = { ...row, id: userId, created: before?.created ?? row.created };
        await insertAudit(client, audit(await writes(client, { users: [{ before, after }] })));
      }
    });
  }

  async findTokenByHash(secretHash: string): Promise<TokenRow | undefined> {
    return (await this.pool.query<TokenRow>(named(TOKEN_BY_HASH, [secretHash]))).rows[0];
  }

  async getToken(id: string): Promise<TokenRow | undefined> {
    return (await this.pool.query<TokenRow>(named(TOKEN_BY_ID, [id]))).rows[0];
  }

  async listTokens(): Promise<TokenRow[]> {
    return (await this.pool.query<TokenRow>(named(TOKEN_LIST))).rows;
  }

  async upsertToken(row: TokenRow, audit?: AuditOf<TenancyWrites>): Promise<void> {
    await transaction(this.pool, async (client) => {
      const before = audit && (await client.query<TokenRow>(named(TOKEN_LOCK, [row.id]))).rows[0];
      await client.query(
        named(TOKEN_UPSERT, [
          row.id,
          row.name,
          row.secret_hash,
          row.can_edit,
          row.status,
          row.expires_on,
          row.created,
        ]),
      );
      await client.query(named(TOKEN_ACCOUNTS_CLEAR, [row.id]));
      await client.query(named(TOKEN_ORGS_CLEAR, [row.id]));
      await client.query(named(TOKEN_ACCOUNTS_ADD, [row.id, row.accounts]));
      await client.query(named(TOKEN_ORGS_ADD, [row.id, row.organizations]));
      if (audit) {
        const after = { ...row, created: before?.created ?? row.created };
        await insertAudit(client, audit(await writes(client, { tokens: [{ before, after }] })));
      }
    });
  }
}
