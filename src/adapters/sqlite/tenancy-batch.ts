import type Database from 'better-sqlite3';
import { planBatch, type PrincipalWrite } from '../../platform/tenancy/batch.js';
import {
  accountsNamed,
  tenancyAudit,
  withOrganizations,
  type TenancyChanges,
} from '../../platform/tenancy/audit.js';
import type {
  AccountRow,
  BatchSummary,
  OrganizationRow,
  TenancyBatch,
  TenancyWrites,
  TokenRow,
  UserRow,
} from '../../platform/tenancy/store.js';
import type { WorkTiming } from '../../engine/reconciler/timing.js';
import { insertAudit } from './audit.js';
import { prepared } from './database.js';
import { toAccount, tokenRecord, userRecord } from './tenancy-rows.js';
import type { TenancyStatements } from './tenancy-statements.js';
import { enqueue, enqueueAccountRecipients } from './work.js';

/** Completes what a write changed with the organizations of the accounts its users and tokens name. */
export function completeWrites(s: TenancyStatements, changed: TenancyChanges): TenancyWrites {
  const ids = accountsNamed(changed);
  const organizationOf = new Map<string, string | null>();
  if (ids.length > 0) {
    for (const r of s.accountsByIds.all(JSON.stringify(ids))) organizationOf.set(r.id, r.organization_id);
  }
  return withOrganizations(changed, organizationOf);
}

/** Reads a batch plans against, inside its transaction. */
export interface BatchReads {
  user(email: string): UserRow | undefined;
  token(key: { hash: string }): TokenRow | undefined;
}

/**
 * `applyBatch`'s transaction: reads what the batch names, plans the change in the domain (`planBatch`),
 * writes it, and, when `auditAt` is given, the operator's audit entries of what it changed.
 */
export function batchWriter(
  db: Database.Database,
  s: TenancyStatements,
  reads: BatchReads,
  timing: WorkTiming,
): (batch: TenancyBatch, auditAt?: string) => BatchSummary {
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
  const batchTx = db.transaction((batch: TenancyBatch, auditAt?: string): BatchSummary => {
    const organizations = new Map<string, OrganizationRow>();
    for (const o of batch.organizations) {
      const r = s.orgGet.get(o.id);
      if (r) organizations.set(r.id, r);
    }
    const accounts = new Map<string, AccountRow>();
    for (const r of s.accountsByIds.all(JSON.stringify(batch.accounts.map((a) => a.id)))) {
      accounts.set(r.id, toAccount(r));
    }
    const users = new Map<string, UserRow>();
    for (const u of batch.users) {
      const r = reads.user(u.email);
      if (r) users.set(r.email, r);
    }
    const tokens = new Map<string, TokenRow>();
    for (const t of batch.tokens) {
      const r = reads.token({ hash: t.secret_hash });
      if (r) tokens.set(r.secret_hash, r);
    }
    const plan = planBatch(batch, { organizations, accounts, users, tokens });
    for (const o of plan.organizations) s.orgUpsert.run(o);
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
        s.userUpsert.run(userRecord(w.row));
      }
      writeScope(w.row.id, w, userScope);
    }
    for (const w of plan.tokens) {
      if (w.writeRow) {
        s.tokenUpsert.run(tokenRecord(w.row));
      }
      writeScope(w.row.id, w, tokenScope);
    }
    if (auditAt !== undefined) insertAudit(db, tenancyAudit(auditAt, completeWrites(s, plan.written)));
    return plan.summary;
  });
  return (batch, auditAt) => batchTx.immediate(batch, auditAt);
}
