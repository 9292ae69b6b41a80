import { ValidationError } from '../../http/errors.js';
import { pointerSegment } from '../../http/validation.js';
import { MAX_TAG_KEY_LENGTH } from '../../cloudflare/shares/schemas.js';
import { permissionsProblem } from '../../platform/tenancy/inputs.js';
import type { StateDocument } from './schemas.js';

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

export function checkReferences(doc: StateDocument): void {
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
