import assert from 'node:assert/strict';
import type { App } from '../../src/http/types.js';
import type { TokenRow } from '../../src/platform/tenancy/store.js';
import { hashSecret } from '../../src/lib/secrets.js';
import { base, call, fanOut, hexId, ORG, OWNER, R1, R3, seedShareBody, type Harness } from '../helpers.js';
import { assertSuccess } from './assert.js';

/** One recipient as the API lists it (`resources` with `include_resources=true`). */
export interface Recipient {
  id: string;
  account_id: string;
  association_status: string;
  created: string;
  modified: string;
  resources?: { resource_id: string; resource_version: number; error: string; terminal: boolean }[];
}

/** One share resource as the API returns it. */
export interface Resource {
  id: string;
  resource_id: string;
  resource_type: string;
  resource_account_id: string;
  meta: Record<string, unknown>;
  status: string;
  resource_version: number;
  created: string;
  modified: string;
}

/** The created share as the tests read it. */
export interface ShareResult extends Record<string, unknown> {
  id: string;
  modified: string;
  target_type: string;
}

/** The fixture has no token for R3; a test that needs R3 past the scope check adds this one. */
export const R3_TOKEN = 'recipient-three-token-secret-10';

/** Adds an active edit token `value` (id `hexId(n, 'c')`) scoped to `account`. */
export async function addToken(
  h: Harness,
  n: number,
  value: string,
  account: string,
  /** Fields that differ from an active edit token on `account` alone, named `token-N`, created now. */
  other: Partial<Omit<TokenRow, 'id' | 'secret_hash'>> = {},
): Promise<void> {
  await h.store.tenancy.upsertToken({
    id: hexId(n, 'c'),
    name: `token-${n}`,
    secret_hash: hashSecret(value),
    can_edit: true,
    status: 'active',
    expires_on: null,
    created: h.clock.timestamp(),
    accounts: [account],
    organizations: [],
    ...other,
  });
}

/** Adds `R3_TOKEN` for R3. */
export const addR3Token = (h: Harness): Promise<void> => addToken(h, 0x10, R3_TOKEN, R3);

export const recipientsUrl = (shareId: string, suffix = '', account = OWNER) =>
  `${base(account)}/${shareId}/recipients${suffix}`;

/** `recipients` as the create body's account recipients. */
export const toAccounts = (recipients: string[]) =>
  recipients.map((recipient_account_id) => ({ recipient_account_id }));

/** Creates a share (default: the seed body, as OWNER with the owner's token); asserts 201 and returns it. */
export async function createShare(
  app: App,
  body: object = seedShareBody(),
  opts: { account?: string; token?: string } = {},
): Promise<ShareResult> {
  const res = await call(app, 'POST', base(opts.account), { body, token: opts.token });
  assertSuccess(res, 201);
  return res.body.result as ShareResult;
}

/** A new account-targeted share owned by OWNER, with the seed resource, sent to `recipients`; returns its id. */
export async function accountShare(app: App, recipients: string[] = [R1]): Promise<string> {
  const share = await createShare(app, { ...seedShareBody(), recipients: toAccounts(recipients) });
  assert.equal(share.target_type, 'account');
  return share.id;
}

/** A new organization-targeted share owned by OWNER (recipients R1, R2, R3 once fanned out); returns its id. */
export async function organizationShare(h: Harness): Promise<string> {
  const share = await createShare(h.app, { ...seedShareBody(), recipients: [{ organization_id: ORG }] });
  assert.equal(share.target_type, 'organization');
  await fanOut(h, share.id); // the recipients come from the reconciler
  return share.id;
}

/** Every recipient of the share (one page of 100), in list order; `include` adds their resources. */
export async function recipientList<T = Recipient>(
  app: App,
  shareId: string,
  opts: { account?: string; token?: string; include?: boolean } = {},
): Promise<T[]> {
  const query = `?per_page=100${opts.include ? '&include_resources=true' : ''}`;
  const res = await call(app, 'GET', recipientsUrl(shareId, query, opts.account), { token: opts.token });
  assertSuccess(res);
  return res.body.result as T[];
}

/** Every recipient of the share, keyed by account. */
export async function recipientsOf(
  app: App,
  shareId: string,
  opts: { account?: string; token?: string; include?: boolean } = {},
): Promise<Map<string, Recipient>> {
  return new Map((await recipientList(app, shareId, opts)).map((r) => [r.account_id, r]));
}

/** Association status of each account's recipient. */
export async function statuses(app: App, shareId: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await recipientList(app, shareId)).map((r) => [r.account_id, r.association_status]),
  );
}

/** Calls the admin API (`/_rshare` + `path`) in process with the admin `token`. */
export const admin = (
  app: App,
  token: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
) => call(app, method, `/_rshare${path}`, { token, body });

/** Adds (or replaces) account `id` as a member of ORG, without entitlements, created and modified at `now`. */
export async function addMember(
  h: Harness,
  id: string,
  name: string,
  now = h.clock.timestamp(),
): Promise<void> {
  await h.store.tenancy.upsertAccount({
    id,
    name,
    organization_id: ORG,
    entitlements: null,
    created: now,
    modified: now,
  });
}
