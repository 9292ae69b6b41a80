import type pg from 'pg';
import type { ResourceType } from '../../http/common-schemas.js';
import type { AccountRow, OrganizationRow, TenancyStore, TokenRow, UserRow } from '../../tenancy/store.js';
import { named, transaction } from './database.js';
import { enqueue, enqueueAccountRecipients } from './work.js';

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
const ACCOUNT_LOCK = `SELECT organization_id, entitlements FROM accounts WHERE id = $1 FOR UPDATE`;
const ACCOUNT_LIST = `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created, id`;
const ACCOUNT_LIST_BY_ORG = `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = $1 ORDER BY created, id`;
const ACCOUNT_UPSERT = `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
  VALUES ($1, $2, $3, $4::jsonb, $5, $6)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id,
    entitlements = excluded.entitlements, modified = excluded.modified`;
const ORG_ACCOUNT_IDS = 'SELECT id FROM accounts WHERE organization_id = $1 ORDER BY created, id';
const CLEAR_TERMINAL_ERRORS = `UPDATE recipient_resources SET error_version = NULL
  WHERE terminal AND recipient_id IN (SELECT id FROM share_recipients WHERE account_id = $1)`;

const USER_BY_EMAIL = `${USER_SELECT} WHERE u.email = $1`;
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

/** Compares entitlements as sets; null (every type) differs from any list. */
function sameEntitlements(a: ResourceType[] | null, b: ResourceType[] | null): boolean {
  if (a === null || b === null) return a === b;
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sb].every((t) => sa.has(t));
}

const DEPART = `INSERT INTO organization_departures (organization_id, account_id) VALUES ($1, $2)
  ON CONFLICT DO NOTHING`;

export class PgTenancyStore implements TenancyStore {
  constructor(private readonly pool: pg.Pool) {}

  async getOrganization(id: string): Promise<OrganizationRow | undefined> {
    return (await this.pool.query<OrganizationRow>(named(ORG_GET, [id]))).rows[0];
  }

  async listOrganizations(): Promise<OrganizationRow[]> {
    return (await this.pool.query<OrganizationRow>(named(ORG_LIST))).rows;
  }

  async upsertOrganization(row: OrganizationRow): Promise<void> {
    await this.pool.query(named(ORG_UPSERT, [row.id, row.name, row.created, row.modified]));
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
  async upsertAccount(row: AccountRow): Promise<void> {
    await transaction(this.pool, async (client) => {
      const before = (
        await client.query<Pick<AccountRow, 'organization_id' | 'entitlements'>>(
          named(ACCOUNT_LOCK, [row.id]),
        )
      ).rows[0];
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
      if (!before || before.organization_id !== row.organization_id) {
        // A new member must receive the organization's shares; a leaver must lose them.
        for (const org of new Set([before?.organization_id ?? null, row.organization_id])) {
          if (org !== null) await enqueue(client, 'organization', org);
        }
        // The old organization's sync finds the leaver's recipients from this account's side.
        if (before?.organization_id) await client.query(named(DEPART, [before.organization_id, row.id]));
      }
      if (before && !sameEntitlements(before.entitlements, row.entitlements)) {
        // Terminal errors (the missing-entitlement one above all) become retryable. The row itself stays:
        // it may still record a version applied in the account, which removal and share deletion rely on.
        await client.query(named(CLEAR_TERMINAL_ERRORS, [row.id]));
        await enqueueAccountRecipients(client, row.id);
      }
    });
  }

  async organizationAccountIds(organizationId: string): Promise<string[]> {
    return (await this.pool.query<{ id: string }>(named(ORG_ACCOUNT_IDS, [organizationId]))).rows.map(
      (r) => r.id,
    );
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    return (await this.pool.query<UserRow>(named(USER_BY_EMAIL, [email]))).rows[0];
  }

  async listUsers(): Promise<UserRow[]> {
    return (await this.pool.query<UserRow>(named(USER_LIST))).rows;
  }

  async upsertUser(row: UserRow): Promise<void> {
    await transaction(this.pool, async (client) => {
      // The email may already belong to a user with another id; scope rows follow the stored one.
      const { rows } = await client.query<{ id: string }>(
        named(USER_UPSERT, [row.id, row.email, row.api_key_hash, row.created]),
      );
      const userId = rows[0]?.id ?? row.id;
      await client.query(named(USER_ACCOUNTS_CLEAR, [userId]));
      await client.query(named(USER_ORGS_CLEAR, [userId]));
      await client.query(named(USER_ACCOUNTS_ADD, [userId, row.accounts]));
      await client.query(named(USER_ORGS_ADD, [userId, row.organizations]));
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

  async upsertToken(row: TokenRow): Promise<void> {
    await transaction(this.pool, async (client) => {
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
    });
  }
}
