import type { ErrorObject, ValidateFunction } from 'ajv';
import { validationError } from '../../http/error-handler.js';
import { NotFoundError, ValidationError } from '../../http/errors.js';
import { findBadText, pointerSegment } from '../../http/validation.js';
import { compileStrict } from '../../lib/strict-validator.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import { bindResourceTypes } from '../../platform/resource-types/schemas.js';
import { groupBy } from '../../lib/group-by.js';
import { isId } from '../../lib/ids.js';
import { MAX_TAG_KEY_LENGTH } from '../../cloudflare/shares/schemas.js';
import { permissionsProblem } from '../../platform/tenancy/inputs.js';
import { normalizeExpiresOn } from '../../platform/tenancy/rows.js';
import {
  STATE_FORMAT_VERSION,
  STATE_FORMAT_VERSIONS,
  STATE_SCHEMAS,
  type StateDocument,
  type StateDocumentV1,
} from './schemas.js';
import type { StateRows, StateStore } from './store.js';

const ORGANIZATION_NOT_FOUND = 'Organization not found';

/** Body validation as the HTTP layer does it (same messages), but strict: unknown fields are errors. */
/** Per registry (a server has one), per format version: resource types and entitlements are the server's. */
const validators = new WeakMap<ResourceTypeRegistry, Map<number, ValidateFunction>>();

function validatorFor(
  version: (typeof STATE_FORMAT_VERSIONS)[number],
  types: ResourceTypeRegistry,
): ValidateFunction {
  let byVersion = validators.get(types);
  if (!byVersion) validators.set(types, (byVersion = new Map()));
  let validate = byVersion.get(version);
  if (!validate) {
    validate = compileStrict(bindResourceTypes(STATE_SCHEMAS[version], types));
    byVersion.set(version, validate);
  }
  return validate;
}

const isVersion = (v: unknown): v is (typeof STATE_FORMAT_VERSIONS)[number] =>
  (STATE_FORMAT_VERSIONS as readonly unknown[]).includes(v);

/** Format 1 → 2: tokens' `can_edit` becomes `permissions`; no departures were recorded. */
export function upgradeState(doc: StateDocumentV1 | StateDocument): StateDocument {
  if (doc.format_version === STATE_FORMAT_VERSION) return doc;
  const { format_version: _v, organizations, accounts, users, tokens, ...sharing } = doc;
  return {
    format_version: STATE_FORMAT_VERSION,
    organizations,
    accounts,
    users,
    tokens: tokens.map(({ can_edit, ...t }) => ({
      id: t.id,
      name: t.name,
      secret_digest: t.secret_digest,
      permissions: can_edit ? ['read', 'edit'] : ['read'],
      status: t.status,
      expires_on: t.expires_on,
      accounts: t.accounts,
      organizations: t.organizations,
      created: t.created,
      modified: t.modified,
    })),
    organization_departures: [],
    ...sharing,
  };
}

/**
 * Validates a state document of any accepted format and returns it as the current format. Throws a
 * ValidationError whose pointer names the first bad field: its type or shape, then its references.
 */
export function parseState(
  doc: unknown,
  types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
): StateDocument {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError('The state document must be a JSON object', '');
  }
  const version = (doc as { format_version?: unknown }).format_version;
  if (version === undefined) throw new ValidationError('format_version is required', '/format_version');
  if (!isVersion(version)) {
    throw new ValidationError(
      `format_version must be one of: ${STATE_FORMAT_VERSIONS.join(', ')}`,
      '/format_version',
    );
  }
  // Neither store takes U+0000 or a lone surrogate (the HTTP layer checks this too).
  const bad = findBadText(doc);
  if (bad !== undefined) throw new ValidationError(bad.message, bad.pointer);
  const validate = validatorFor(version, types);
  if (!validate(doc)) throw schemaError(validate.errors ?? []);
  const current = upgradeState(doc as StateDocumentV1 | StateDocument);
  checkReferences(current);
  return current;
}

/** As the HTTP layer words it, except that an unknown field (which the API drops) names the field. */
function schemaError(errors: ErrorObject[]): ValidationError {
  const e = errors[0];
  if (e?.keyword === 'additionalProperties') {
    const field = String((e.params as { additionalProperty: string }).additionalProperty);
    return new ValidationError(`Unknown field ${field}`, `${e.instancePath}/${pointerSegment(field)}`);
  }
  return validationError(errors, 'body');
}

/** What a whole reset keeps: the tenancy tables (the rest of a snapshot hangs off shares). */
const TENANCY_TABLES: ReadonlySet<keyof StateRows> = new Set<keyof StateRows>([
  'organizations',
  'accounts',
  'users',
  'user_accounts',
  'user_organizations',
  'tokens',
  'token_accounts',
  'token_organizations',
  'organization_departures',
]);

/** Whole-store reset and snapshots for test suites, behind the admin API. */
export class StateService {
  /**
   * `exclusive` runs each wholesale change (import, clear, organization clear) with this process's
   * reconciler paused, so no pass in flight writes what it read from the store being replaced.
   */
  constructor(
    private readonly store: StateStore,
    private readonly exclusive: <T>(change: () => Promise<T>) => Promise<T> = (change) => change(),
    private readonly types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  ) {}

  /** The whole store as a current-format document. */
  async exportState(): Promise<StateDocument> {
    return toDocument(await this.store.exportRows());
  }

  /**
   * The tenancy alone (organizations, accounts, users, tokens, departures) as a document with no shares:
   * what a whole reset returns to. Reads no share table, so it costs the same at a million shares.
   */
  async exportTenancy(): Promise<StateDocument> {
    return toDocument(await this.store.exportRows(TENANCY_TABLES));
  }

  /** Replaces the whole store with `doc` (any accepted format) in one transaction; unchanged on any error. */
  async importState(doc: unknown): Promise<void> {
    const rows = toRows(parseState(doc, this.types));
    await this.exclusive(() => this.store.importRows(rows));
  }

  /** Empties the store, tenancy included. */
  async clear(): Promise<void> {
    await this.exclusive(() => this.store.clear());
  }

  /** Removes one organization's shares and everything under them; tenancy stays. */
  async clearOrganization(organizationId: string): Promise<{ shares: number }> {
    if (!isId(organizationId)) {
      throw new ValidationError('organization_id must be 32 lowercase hex characters', '/organization_id');
    }
    const cleared = await this.exclusive(() => this.store.clearOrganization(organizationId));
    if (!cleared) throw new NotFoundError(ORGANIZATION_NOT_FOUND);
    return cleared;
  }
}

// Document ↔ rows.

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

function toDocument(rows: StateRows): StateDocument {
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
    shares: sorted(rows.shares, 'id').map((s) => ({
      id: s.id,
      account_id: s.account_id,
      organization_id: s.organization_id,
      name: s.name,
      target_type: s.target_type,
      status: s.status,
      tags: tags.get(s.id) ?? {},
      created: s.created,
      modified: s.modified,
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

function toRows(doc: StateDocument): StateRows {
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

// Referential checks: everything the store's keys and constraints would refuse, as a 400 with a pointer.

function fail(pointer: string, message: string): never {
  throw new ValidationError(message, pointer);
}

/** Ids of `items` by id, refusing a repeated one. */
function idsOf<T extends { id: string }>(
  items: readonly T[],
  collection: string,
  what: string,
): Map<string, T> {
  const out = new Map<string, T>();
  items.forEach((item, i) => {
    if (out.has(item.id)) fail(`/${collection}/${i}/id`, `Duplicate ${what} id ${item.id}`);
    out.set(item.id, item);
  });
  return out;
}

/** Refuses a key seen before (`seen` is shared across calls for one collection). */
function once(seen: Set<string>, key: string, pointer: string, message: string): void {
  if (seen.has(key)) fail(pointer, message);
  seen.add(key);
}

function known(ids: ReadonlyMap<string, unknown>, id: string, pointer: string, what: string): void {
  if (!ids.has(id)) fail(pointer, `Unknown ${what} ${id}`);
}

function checkScope(
  list: readonly string[],
  ids: ReadonlyMap<string, unknown>,
  pointer: string,
  what: string,
): void {
  const seen = new Set<string>();
  list.forEach((id, k) => {
    known(ids, id, `${pointer}/${k}`, what);
    once(seen, id, `${pointer}/${k}`, `Duplicate ${what} ${id} in the scope`);
  });
}

function checkReferences(doc: StateDocument): void {
  const orgs = idsOf(doc.organizations, 'organizations', 'organization');
  const accounts = idsOf(doc.accounts, 'accounts', 'account');
  idsOf(doc.users, 'users', 'user');
  idsOf(doc.tokens, 'tokens', 'token');
  const shares = idsOf(doc.shares, 'shares', 'share');
  const recipients = idsOf(doc.recipients, 'recipients', 'recipient');
  const resources = idsOf(doc.resources, 'resources', 'resource');
  idsOf(doc.excluded_recipients, 'excluded_recipients', 'excluded recipient');

  doc.accounts.forEach((a, i) => {
    if (a.organization_id !== null)
      known(orgs, a.organization_id, `/accounts/${i}/organization_id`, 'organization');
  });

  const emails = new Set<string>();
  doc.users.forEach((u, i) => {
    once(emails, u.email, `/users/${i}/email`, `Duplicate user email ${u.email}`);
    checkScope(u.accounts, accounts, `/users/${i}/accounts`, 'account');
    checkScope(u.organizations, orgs, `/users/${i}/organizations`, 'organization');
  });

  const digests = new Set<string>();
  doc.tokens.forEach((t, i) => {
    once(digests, t.secret_digest, `/tokens/${i}/secret_digest`, 'Duplicate token secret_digest');
    const problem = permissionsProblem(t.permissions);
    if (problem) fail(`/tokens/${i}/permissions`, `permissions ${problem}`);
    checkScope(t.accounts, accounts, `/tokens/${i}/accounts`, 'account');
    checkScope(t.organizations, orgs, `/tokens/${i}/organizations`, 'organization');
  });

  const departures = new Set<string>();
  doc.organization_departures.forEach((d, i) => {
    const at = `/organization_departures/${i}`;
    known(orgs, d.organization_id, `${at}/organization_id`, 'organization');
    known(accounts, d.account_id, `${at}/account_id`, 'account');
    once(
      departures,
      `${d.organization_id}/${d.account_id}`,
      `${at}/account_id`,
      `Duplicate departure of account ${d.account_id} from organization ${d.organization_id}`,
    );
  });

  doc.shares.forEach((s, i) => {
    known(accounts, s.account_id, `/shares/${i}/account_id`, 'account');
    known(orgs, s.organization_id, `/shares/${i}/organization_id`, 'organization');
    for (const key of Object.keys(s.tags)) {
      const at = `/shares/${i}/tags/${pointerSegment(key)}`;
      if (key === '') fail(at, 'Tag keys must not be empty');
      if (key.length > MAX_TAG_KEY_LENGTH)
        fail(at, `Tag keys must be at most ${MAX_TAG_KEY_LENGTH} characters`);
      if (key.includes('=')) fail(at, `Tag key "${key}" must not contain "="`);
    }
  });

  const recipientPairs = new Set<string>();
  doc.recipients.forEach((r, i) => {
    known(shares, r.share_id, `/recipients/${i}/share_id`, 'share');
    known(accounts, r.account_id, `/recipients/${i}/account_id`, 'account');
    once(
      recipientPairs,
      `${r.share_id}/${r.account_id}`,
      `/recipients/${i}/account_id`,
      `Account ${r.account_id} is already a recipient of share ${r.share_id}`,
    );
  });

  const live = new Set<string>();
  doc.resources.forEach((r, i) => {
    known(shares, r.share_id, `/resources/${i}/share_id`, 'share');
    known(accounts, r.resource_account_id, `/resources/${i}/resource_account_id`, 'account');
    // As the store's unique index: a resource is shared once per share until it is deleted.
    if (r.status !== 'deleted') {
      once(
        live,
        JSON.stringify([r.share_id, r.resource_type, r.resource_id]),
        `/resources/${i}/resource_id`,
        `Resource ${r.resource_type} ${r.resource_id} is already shared by share ${r.share_id}`,
      );
    }
  });

  const exclusions = new Set<string>();
  doc.excluded_recipients.forEach((e, i) => {
    known(shares, e.share_id, `/excluded_recipients/${i}/share_id`, 'share');
    known(accounts, e.account_id, `/excluded_recipients/${i}/account_id`, 'account');
    once(
      exclusions,
      `${e.share_id}/${e.account_id}`,
      `/excluded_recipients/${i}/account_id`,
      `Account ${e.account_id} is already excluded from share ${e.share_id}`,
    );
  });

  const deliveries = new Set<string>();
  doc.deliveries.forEach((d, i) => {
    const at = `/deliveries/${i}`;
    known(recipients, d.recipient_id, `${at}/recipient_id`, 'recipient');
    known(resources, d.share_resource_id, `${at}/share_resource_id`, 'resource');
    const shareId = recipients.get(d.recipient_id)?.share_id;
    if (resources.get(d.share_resource_id)?.share_id !== shareId) {
      fail(`${at}/share_resource_id`, `Resource ${d.share_resource_id} is not of share ${shareId}`);
    }
    once(
      deliveries,
      `${d.recipient_id}/${d.share_resource_id}`,
      `${at}/share_resource_id`,
      `Duplicate delivery of resource ${d.share_resource_id} to recipient ${d.recipient_id}`,
    );
  });

  const inventory = new Set<string>();
  doc.inventory.forEach((row, i) => {
    const at = `/inventory/${i}`;
    known(accounts, row.account_id, `${at}/account_id`, 'account');
    known(shares, row.share_id, `${at}/share_id`, 'share');
    known(resources, row.share_resource_id, `${at}/share_resource_id`, 'resource');
    if (resources.get(row.share_resource_id)?.share_id !== row.share_id) {
      fail(`${at}/share_resource_id`, `Resource ${row.share_resource_id} is not of share ${row.share_id}`);
    }
    once(
      inventory,
      `${row.account_id}/${row.share_resource_id}`,
      `${at}/share_resource_id`,
      `Duplicate inventory row of resource ${row.share_resource_id} in account ${row.account_id}`,
    );
  });

  const work = new Set<string>();
  const targets = { recipient: recipients, share: shares, organization: orgs } as const;
  doc.work.forEach((w, i) => {
    known(targets[w.kind], w.id, `/work/${i}/id`, w.kind);
    once(work, `${w.kind}/${w.id}`, `/work/${i}/id`, `Duplicate ${w.kind} work item ${w.id}`);
  });
}
