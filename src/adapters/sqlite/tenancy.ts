import type Database from 'better-sqlite3';
import type { AuditEntry } from '../../platform/audit/entry.js';
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
import { dueNow, type WorkTiming } from '../../engine/reconciler/timing.js';
import { insertAudit } from './audit.js';
import { prepared } from './database.js';
import { batchWriter, completeWrites } from './tenancy-batch.js';
import {
  groupLinks,
  sameEntitlements,
  scoped,
  targetOf,
  toAccount,
  toToken,
  tokenRecord,
  userRecord,
} from './tenancy-rows.js';
import { tenancyStatements, type TenancyStatements } from './tenancy-statements.js';
import { enqueue, enqueueAccountRecipients } from './work.js';

type Db = Database.Database;

/**
 * Organizations, accounts, users and tokens on SQLite. Every write bumps the process's tenancy generation
 * (../../platform/tenancy/generation.ts), so cached credentials see it at once. A write given `auditAt` records the operator's audit
 * entries of what it changed (built by `tenancyAudit` from the rows it replaced) in its own transaction.
 */
export class SqliteTenancyStore implements TenancyStore {
  private readonly s: TenancyStatements;
  private readonly applyBatchTx: (batch: TenancyBatch, auditAt?: string) => BatchSummary;
  private readonly readUserTx: (email: string) => UserRow | undefined;
  private readonly listUsersTx: () => UserRow[];
  private readonly upsertOrganizationTx: (row: OrganizationRow, audit: readonly AuditEntry[]) => void;
  private readonly upsertUserTx: (row: UserRow, auditAt?: string) => void;
  private readonly upsertAccountTx: (row: AccountRow, auditAt?: string) => void;
  private readonly readTokenTx: (key: { id: string } | { hash: string }) => TokenRow | undefined;
  private readonly listTokensTx: () => TokenRow[];
  private readonly upsertTokenTx: (row: TokenRow, auditAt?: string) => void;

  constructor(db: Db, timing: WorkTiming = dueNow) {
    const s = (this.s = tenancyStatements(db));
    this.readUserTx = db.transaction((email: string) => {
      const r = s.userByEmail.get(email);
      return r && { ...r, accounts: s.userAccounts.all(r.id), organizations: s.userOrgs.all(r.id) };
    });
    this.listUsersTx = db.transaction(() => {
      const users = s.userList.all();
      const accounts = groupLinks(s.allUserAccounts.all());
      const orgs = groupLinks(s.allUserOrgs.all());
      return users.map((u) => ({
        ...u,
        accounts: accounts.get(u.id) ?? [],
        organizations: orgs.get(u.id) ?? [],
      }));
    });
    this.upsertUserTx = db.transaction((row: UserRow, auditAt?: string) => {
      const before = auditAt === undefined ? undefined : this.readUserTx(row.email);
      s.userUpsert.run(userRecord(row));
      // The email may already belong to a user with another id; scope rows follow the stored one.
      const userId = s.userIdByEmail.get(row.email) ?? row.id;
      s.userAccountsClear.run(userId);
      s.userOrgsClear.run(userId);
      for (const a of row.accounts) s.userAccountAdd.run(userId, a);
      for (const o of row.organizations) s.userOrgAdd.run(userId, o);
      if (auditAt !== undefined) {
        const after = { ...row, id: userId, created: before?.created ?? row.created };
        insertAudit(db, tenancyAudit(auditAt, completeWrites(s, { users: [{ before, after }] })));
      }
    });
    this.upsertOrganizationTx = db.transaction((row: OrganizationRow, audit: readonly AuditEntry[]) => {
      s.orgUpsert.run({ id: row.id, name: row.name, created: row.created, modified: row.modified });
      insertAudit(db, audit);
    });

    // Membership and entitlements decide what an account receives, so their changes queue reconciler work
    // in the same transaction: a crash between the two can never leave a move unreconciled.
    this.upsertAccountTx = db.transaction((row: AccountRow, auditAt?: string) => {
      const before = s.accountGet.get(row.id);
      const entitlements = row.entitlements === null ? null : JSON.stringify(row.entitlements);
      s.accountUpsert.run({
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
      if (auditAt !== undefined) {
        const after = { ...row, created: before?.created ?? row.created };
        insertAudit(
          db,
          tenancyAudit(
            auditAt,
            completeWrites(s, { accounts: [{ before: before && toAccount(before), after }] }),
          ),
        );
      }
    });

    this.readTokenTx = db.transaction((key: { id: string } | { hash: string }) => {
      const r = 'id' in key ? s.tokenById.get(key.id) : s.tokenByHash.get(key.hash);
      return r && toToken(r, { accounts: s.tokenAccounts.all(r.id), organizations: s.tokenOrgs.all(r.id) });
    });
    this.listTokensTx = db.transaction(() => {
      const tokens = s.tokenList.all();
      const accounts = groupLinks(s.allTokenAccounts.all());
      const orgs = groupLinks(s.allTokenOrgs.all());
      return tokens.map((t) =>
        toToken(t, { accounts: accounts.get(t.id) ?? [], organizations: orgs.get(t.id) ?? [] }),
      );
    });
    this.upsertTokenTx = db.transaction((row: TokenRow, auditAt?: string) => {
      const before = auditAt === undefined ? undefined : this.readTokenTx({ id: row.id });
      s.tokenUpsert.run(tokenRecord(row));
      s.tokenAccountsClear.run(row.id);
      s.tokenOrgsClear.run(row.id);
      for (const a of row.accounts) s.tokenAccountAdd.run(row.id, a);
      for (const o of row.organizations) s.tokenOrgAdd.run(row.id, o);
      if (auditAt !== undefined) {
        const after = { ...row, created: before?.created ?? row.created };
        insertAudit(db, tenancyAudit(auditAt, completeWrites(s, { tokens: [{ before, after }] })));
      }
    });
    this.applyBatchTx = batchWriter(
      db,
      s,
      { user: (email) => this.readUserTx(email), token: (key) => this.readTokenTx(key) },
      timing,
    );
  }

  async getOrganization(id: string): Promise<OrganizationRow | undefined> {
    return this.s.orgGet.get(id);
  }

  async listOrganizations(): Promise<OrganizationRow[]> {
    return this.s.orgList.all();
  }

  async upsertOrganization(row: OrganizationRow, audit: readonly AuditEntry[] = []): Promise<void> {
    await tenancyWrite(() => this.upsertOrganizationTx(row, audit));
  }

  async getAccount(id: string): Promise<AccountRow | undefined> {
    const r = this.s.accountGet.get(id);
    return r && toAccount(r);
  }

  async listAccounts(organizationId?: string): Promise<AccountRow[]> {
    const rows =
      organizationId === undefined ? this.s.accountList.all() : this.s.accountListByOrg.all(organizationId);
    return rows.map(toAccount);
  }

  /**
   * Also queues reconciler work: the old and new organization when the account joins, leaves or moves
   * (or is created inside one), and the account's recipients when its entitlements change.
   */
  async upsertAccount(row: AccountRow, auditAt?: string): Promise<void> {
    await tenancyWrite(() => this.upsertAccountTx(row, auditAt));
  }

  async organizationMembers(organizationId: string, accountIds: readonly string[]): Promise<Set<string>> {
    if (accountIds.length === 0) return new Set();
    return new Set(this.s.members.all(JSON.stringify(accountIds), organizationId));
  }

  async findUserCredential(email: string, target: ScopeTarget): Promise<UserCredential | undefined> {
    const { kind, id } = targetOf(target);
    const r = this.s.userCredential.get(kind)?.get(id, email);
    return (
      r && { id: r.id, email: r.email, api_key_hash: r.api_key_hash, created: r.created, ...scoped(id, r) }
    );
  }

  async findTokenCredential(secretHash: string, target: ScopeTarget): Promise<TokenCredential | undefined> {
    const { kind, id } = targetOf(target);
    const r = this.s.tokenCredential.get(kind)?.get(id, secretHash);
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

  async applyBatch(batch: TenancyBatch, auditAt?: string): Promise<BatchSummary> {
    return tenancyWrite(() => this.applyBatchTx(batch, auditAt));
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    return this.readUserTx(email);
  }

  async listUsers(): Promise<UserRow[]> {
    return this.listUsersTx();
  }

  async upsertUser(row: UserRow, auditAt?: string): Promise<void> {
    await tenancyWrite(() => this.upsertUserTx(row, auditAt));
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

  async upsertToken(row: TokenRow, auditAt?: string): Promise<void> {
    await tenancyWrite(() => this.upsertTokenTx(row, auditAt));
  }
}
