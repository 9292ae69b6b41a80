import type pg from 'pg';
import type {
  AccountRow,
  BatchSummary,
  OrganizationRow,
  TenancyBatch,
  TenancyWrites,
  TokenRow,
  UserRow,
} from '../../platform/tenancy/store.js';
import { planBatch, type Existing } from '../../platform/tenancy/batch.js';
import {
  accountsNamed,
  tenancyAudit,
  withOrganizations,
  type TenancyChanges,
} from '../../platform/tenancy/audit.js';
import { insertAudit } from './audit.js';
import { named, type Queryable } from './database.js';
import {
  ACCOUNTS_BY_IDS,
  ACCOUNTS_LOCK_BY_IDS,
  ACCOUNTS_UPSERT,
  BATCH_LOCK,
  CLEAR_TERMINAL_ERRORS_MANY,
  DEPART,
  ENQUEUE_ACCOUNTS_RECIPIENTS,
  ORGS_BY_IDS,
  ORGS_UPSERT,
  TOKEN_ACCOUNTS_ADD,
  TOKEN_ACCOUNTS_REMOVE,
  TOKEN_ORGS_ADD,
  TOKEN_ORGS_REMOVE,
  TOKEN_UPSERT,
  TOKENS_BY_HASHES,
  USER_ACCOUNTS_ADD,
  USER_ACCOUNTS_REMOVE,
  USER_ORGS_ADD,
  USER_ORGS_REMOVE,
  USER_UPSERT,
  USERS_BY_EMAILS,
} from './tenancy-sql.js';
import { enqueueMany } from './work.js';

/** Completes what a write changed with the organizations of the accounts its users and tokens name. */
export async function completeWrites(client: Queryable, changed: TenancyChanges): Promise<TenancyWrites> {
  const ids = accountsNamed(changed);
  const organizationOf = new Map<string, string | null>();
  if (ids.length > 0) {
    const { rows } = await client.query<AccountRow>(named(ACCOUNTS_BY_IDS, [ids]));
    for (const r of rows) organizationOf.set(r.id, r.organization_id);
  }
  return withOrganizations(changed, organizationOf);
}

/**
 * `applyBatch` inside its transaction: reads what the batch names, plans the change in the domain
 * (`planBatch`), writes it, and, when `auditAt` is given, the operator's audit entries of what it changed.
 */
export async function applyTenancyBatch(
  client: pg.PoolClient,
  batch: TenancyBatch,
  due: number,
  auditAt?: string,
): Promise<BatchSummary> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [BATCH_LOCK]);
  const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r]));
  const existing: Existing = {
    organizations: byId(
      (await client.query<OrganizationRow>(named(ORGS_BY_IDS, [batch.organizations.map((o) => o.id)]))).rows,
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
    if (w.addOrganizations.length > 0) await client.query(named(USER_ORGS_ADD, [userId, w.addOrganizations]));
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
    if (w.addOrganizations.length > 0) await client.query(named(TOKEN_ORGS_ADD, [r.id, w.addOrganizations]));
  }
  if (auditAt !== undefined) {
    await insertAudit(client, tenancyAudit(auditAt, await completeWrites(client, plan.written)));
  }
  return plan.summary;
}
