import type pg from 'pg';
import type { AuditEntry } from '../../platform/audit/entry.js';
import type { ResourceType } from '../../http/common-schemas.js';
import { tenancyAudit } from '../../platform/tenancy/audit.js';
import { tenancyWrite } from '../../platform/tenancy/generation.js';
import type {
  AccountRow,
  BatchSummary,
  OrganizationRow,
  ScopeTarget,
  TenancyBatch,
  TenancyStore,
  TokenCredential,
  TokenRow,
  UserCredential,
  UserRow,
} from '../../platform/tenancy/store.js';
import { insertAudit } from './audit.js';
import { named, transaction } from './database.js';
import { applyTenancyBatch, completeWrites } from './tenancy-batch.js';
import {
  ACCOUNT_GET,
  ACCOUNT_LIST,
  ACCOUNT_LIST_BY_ORG,
  ACCOUNT_LOCK,
  ACCOUNT_UPSERT,
  CLEAR_TERMINAL_ERRORS,
  CREDENTIAL,
  DEPART,
  ORG_GET,
  ORG_LIST,
  ORG_MEMBERS,
  ORG_UPSERT,
  TOKEN_ACCOUNTS_ADD,
  TOKEN_ACCOUNTS_CLEAR,
  TOKEN_BY_HASH,
  TOKEN_BY_ID,
  TOKEN_LIST,
  TOKEN_LOCK,
  TOKEN_ORGS_ADD,
  TOKEN_ORGS_CLEAR,
  TOKEN_UPSERT,
  USER_ACCOUNTS_ADD,
  USER_ACCOUNTS_CLEAR,
  USER_BY_EMAIL,
  USER_LIST,
  USER_LOCK,
  USER_ORGS_ADD,
  USER_ORGS_CLEAR,
  USER_UPSERT,
} from './tenancy-sql.js';
import { enqueue, enqueueAccountRecipients } from './work.js';
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';

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

/**
 * Organizations, accounts, users and tokens on PostgreSQL. Every write bumps the process's tenancy
 * generation once it has ended (../../platform/tenancy/generation.ts), so cached credentials see it at once.
 */
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
    await tenancyWrite(() => this.writeOrganization(row, audit));
  }

  private async writeOrganization(row: OrganizationRow, audit: readonly AuditEntry[]): Promise<void> {
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
  async upsertAccount(row: AccountRow, auditAt?: string): Promise<void> {
    await tenancyWrite(() => this.writeAccount(row, auditAt));
  }

  private async writeAccount(row: AccountRow, auditAt?: string): Promise<void> {
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
      if (auditAt !== undefined) {
        const after = { ...row, created: before?.created ?? row.created };
        await insertAudit(
          client,
          tenancyAudit(auditAt, await completeWrites(client, { accounts: [{ before, after }] })),
        );
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
  async applyBatch(batch: TenancyBatch, auditAt?: string): Promise<BatchSummary> {
    return tenancyWrite(() =>
      transaction(this.pool, (client) => applyTenancyBatch(client, batch, this.timing.dueAt(), auditAt)),
    );
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    return (await this.pool.query<UserRow>(named(USER_BY_EMAIL, [email]))).rows[0];
  }

  async listUsers(): Promise<UserRow[]> {
    return (await this.pool.query<UserRow>(named(USER_LIST))).rows;
  }

  async upsertUser(row: UserRow, auditAt?: string): Promise<void> {
    await tenancyWrite(() => this.writeUser(row, auditAt));
  }

  private async writeUser(row: UserRow, auditAt?: string): Promise<void> {
    await transaction(this.pool, async (client) => {
      const before =
        auditAt === undefined
          ? undefined
          : (await client.query<UserRow>(named(USER_LOCK, [row.email]))).rows[0];
      // The email may already belong to a user with another id; scope rows follow the stored one.
      const { rows } = await client.query<{ id: string }>(
        named(USER_UPSERT, [row.id, row.email, row.api_key_hash, row.created]),
      );
      const userId = rows[0]?.id ?? row.id;
      await client.query(named(USER_ACCOUNTS_CLEAR, [userId]));
      await client.query(named(USER_ORGS_CLEAR, [userId]));
      await client.query(named(USER_ACCOUNTS_ADD, [userId, row.accounts]));
      await client.query(named(USER_ORGS_ADD, [userId, row.organizations]));
      if (auditAt !== undefined) {
        const after = { ...row, id: userId, created: before?.created ?? row.created };
        await insertAudit(
          client,
          tenancyAudit(auditAt, await completeWrites(client, { users: [{ before, after }] })),
        );
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

  async upsertToken(row: TokenRow, auditAt?: string): Promise<void> {
    await tenancyWrite(() => this.writeToken(row, auditAt));
  }

  private async writeToken(row: TokenRow, auditAt?: string): Promise<void> {
    await transaction(this.pool, async (client) => {
      const before =
        auditAt === undefined
          ? undefined
          : (await client.query<TokenRow>(named(TOKEN_LOCK, [row.id]))).rows[0];
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
      if (auditAt !== undefined) {
        const after = { ...row, created: before?.created ?? row.created };
        await insertAudit(
          client,
          tenancyAudit(auditAt, await completeWrites(client, { tokens: [{ before, after }] })),
        );
      }
    });
  }
}
