import { groupBy } from '../../lib/group-by.js';
import { normalizeExpiresOn } from '../../platform/tenancy/rows.js';
import { STATE_FORMAT_VERSION, type StateDocument } from './schemas.js';
import type { StateRows } from './store.js';

// The state document ↔ the store's rows.

type Key = string | number;

/** Ascending by the given fields; plain string comparison, so both stores give the same order. */
function byFields<T>(...fields: (keyof T)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const f of fields) {
      const x = a[f] as Key;
      const y = b[f] as Key;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
}

const sorted = <T>(rows: readonly T[], ...fields: (keyof T)[]): T[] => [...rows].sort(byFields(...fields));

/** The linked ids of each owner, in link order. */
function scopes<L>(links: readonly L[], owner: keyof L, target: keyof L): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [id, group] of groupBy(links, (l) => l[owner] as string))
    out.set(
      id,
      group.map((l) => l[target] as string),
    );
  return out;
}

export function toDocument(rows: StateRows): StateDocument {
  const userAccounts = scopes(rows.user_accounts, 'user_id', 'account_id');
  const userOrgs = scopes(rows.user_organizations, 'user_id', 'organization_id');
  const tokenAccounts = scopes(rows.token_accounts, 'token_id', 'account_id');
  const tokenOrgs = scopes(rows.token_organizations, 'token_id', 'organization_id');
  const tags = new Map<string, Record<string, string>>();
  for (const t of sorted(rows.share_tags, 'share_id', 'key')) {
    let set = tags.get(t.share_id);
    if (!set) tags.set(t.share_id, (set = {}));
    set[t.key] = t.value;
  }
  return {
    format_version: STATE_FORMAT_VERSION,
    organizations: sorted(rows.organizations, 'id').map((o) => ({
      id: o.id,
      name: o.name,
      created: o.created,
      modified: o.modified,
    })),
    accounts: sorted(rows.accounts, 'id').map((a) => ({
      id: a.id,
      name: a.name,
      organization_id: a.organization_id,
      entitlements: a.entitlements,
      created: a.created,
      modified: a.modified,
    })),
    users: sorted(rows.users, 'id').map((u) => ({
      id: u.id,
      email: u.email,
      api_key_digest: u.api_key_hash,
      accounts: userAccounts.get(u.id) ?? [],
      organizations: userOrgs.get(u.id) ?? [],
      created: u.created,
      modified: u.modified,
    })),
    tokens: sorted(rows.tokens, 'id').map((t) => ({
      id: t.id,
      name: t.name,
      secret_digest: t.secret_hash,
      permissions: t.can_edit ? ['read', 'edit'] : ['read'],
      status: t.status,
      expires_on: normalizeExpiresOn(t.expires_on),
      accounts: tokenAccounts.get(t.id) ?? [],
      organizations: tokenOrgs.get(t.id) ?? [],
      created: t.created,
      modified: t.modified,
    })),
    organization_departures: sorted(rows.organization_departures, 'organization_id', 'account_id').map(
      (d) => ({ organization_id: d.organization_id, account_id: d.account_id }),
    ),
    // Every stored column of a share (its table's declaration), its tags before its stamps.
    shares: sorted(rows.shares, 'id').map(({ created, modified, ...s }) => ({
      ...s,
      tags: tags.get(s.id) ?? {},
      created,
      modified,
    })),
    recipients: sorted(rows.share_recipients, 'id').map((r) => ({
      id: r.id,
      share_id: r.share_id,
      account_id: r.account_id,
      desired_status: r.desired_status,
      status: r.status,
      created: r.created,
      modified: r.modified,
    })),
    resources: sorted(rows.share_resources, 'id').map((r) => ({
      id: r.id,
      share_id: r.share_id,
      resource_id: r.resource_id,
      resource_type: r.resource_type,
      resource_account_id: r.resource_account_id,
      meta: r.meta,
      status: r.status,
      resource_version: r.resource_version,
      created: r.created,
      modified: r.modified,
    })),
    excluded_recipients: sorted(rows.share_excluded_recipients, 'id').map((e) => ({
      id: e.id,
      share_id: e.share_id,
      account_id: e.account_id,
      created: e.created,
      modified: e.modified,
    })),
    deliveries: sorted(rows.recipient_resources, 'recipient_id', 'share_resource_id').map((d) => ({
      recipient_id: d.recipient_id,
      share_resource_id: d.share_resource_id,
      applied_version: d.applied_version,
      error: d.error,
      terminal: d.terminal,
      error_version: d.error_version,
      modified: d.modified,
    })),
    inventory: sorted(rows.inventory, 'account_id', 'share_resource_id').map((i) => ({
      account_id: i.account_id,
      share_resource_id: i.share_resource_id,
      share_id: i.share_id,
      resource_id: i.resource_id,
      resource_type: i.resource_type,
      resource_account_id: i.resource_account_id,
      meta: i.meta,
      resource_version: i.resource_version,
      created: i.created,
      modified: i.modified,
    })),
    work: sorted(rows.reconcile_work, 'kind', 'id').map((w) => ({
      kind: w.kind,
      id: w.id,
      generation: w.generation,
      due_at: w.due_at,
      attempts: w.attempts,
      last_error: w.last_error,
    })),
  };
}

export function toRows(doc: StateDocument): StateRows {
  return {
    organizations: doc.organizations,
    accounts: doc.accounts,
    users: doc.users.map((u) => ({
      id: u.id,
      email: u.email,
      api_key_hash: u.api_key_digest,
      created: u.created,
      modified: u.modified,
    })),
    user_accounts: doc.users.flatMap((u) => u.accounts.map((account_id) => ({ user_id: u.id, account_id }))),
    user_organizations: doc.users.flatMap((u) =>
      u.organizations.map((organization_id) => ({ user_id: u.id, organization_id })),
    ),
    tokens: doc.tokens.map((t) => ({
      id: t.id,
      name: t.name,
      secret_hash: t.secret_digest,
      can_edit: t.permissions.includes('edit'),
      status: t.status,
      // Stored as the tenancy service stores it (whole seconds, Z), so a GET returns what a token shows.
      expires_on: normalizeExpiresOn(t.expires_on),
      created: t.created,
      modified: t.modified,
    })),
    token_accounts: doc.tokens.flatMap((t) =>
      t.accounts.map((account_id) => ({ token_id: t.id, account_id })),
    ),
    token_organizations: doc.tokens.flatMap((t) =>
      t.organizations.map((organization_id) => ({ token_id: t.id, organization_id })),
    ),
    organization_departures: doc.organization_departures,
    shares: doc.shares.map(({ tags: _tags, ...s }) => s),
    share_tags: doc.shares.flatMap((s) =>
      Object.entries(s.tags).map(([key, value]) => ({ share_id: s.id, key, value })),
    ),
    share_recipients: doc.recipients,
    share_resources: doc.resources,
    share_excluded_recipients: doc.excluded_recipients,
    recipient_resources: doc.deliveries,
    reconcile_work: doc.work,
    inventory: doc.inventory,
  };
}
