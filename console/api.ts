/**
 * The console's only way to the server: the public API (and, with the admin token, the admin API) on this
 * origin, with the credentials the user typed. They live in this tab's sessionStorage (never a cookie the
 * server could replay, never logged) and signing out forgets them.
 */

// Type-only: the TypeBox `Static` types of the schemas that validate and serialise each answer, so the
// console reads exactly what the server sends. No server code reaches the browser bundle.
import type { AccountObject } from '../src/cloudflare/accounts/schemas.js';
import type { AuditLogV2 } from '../src/cloudflare/audit/schemas.js';
import type { ExcludedRecipientObject } from '../src/cloudflare/excluded-recipients/schemas.js';
import type { MembershipObject } from '../src/cloudflare/memberships/schemas.js';
import type { RecipientObject } from '../src/cloudflare/recipients/schemas.js';
import type { ResourceObject } from '../src/cloudflare/resources/schemas.js';
import type { ShareObject } from '../src/cloudflare/shares/schemas.js';
import type { ResultInfo } from '../src/http/common-schemas.js';

export type Credentials = { kind: 'token'; token: string } | { kind: 'key'; email: string; key: string };

const CREDENTIALS = 'rshare.console.credentials';
const ADMIN = 'rshare.console.admin';

export const API_ROOT = '/client/v4';
export const ADMIN_ROOT = '/_rshare';

function read<T>(key: string): T | undefined {
  const text = sessionStorage.getItem(key);
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export const session = {
  credentials: (): Credentials | undefined => read<Credentials>(CREDENTIALS),
  adminToken: (): string | undefined => read<string>(ADMIN),
  signIn(credentials: Credentials): void {
    sessionStorage.setItem(CREDENTIALS, JSON.stringify(credentials));
  },
  setAdminToken(token: string | undefined): void {
    if (token === undefined) sessionStorage.removeItem(ADMIN);
    else sessionStorage.setItem(ADMIN, JSON.stringify(token));
  },
  signOut(): void {
    sessionStorage.removeItem(CREDENTIALS);
    sessionStorage.removeItem(ADMIN);
    forgetMemberships();
  },
};

/** A refusal as the API words it: `errors[0].message` and the field it names (`source.pointer`). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
    readonly pointer: string | undefined,
  ) {
    super(message);
  }
}

interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string; source?: { pointer: string } }[];
  result: T;
  result_info?: ResultInfo;
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function authHeaders(credentials: Credentials | undefined): Record<string, string> {
  if (!credentials) return {};
  return credentials.kind === 'token'
    ? { authorization: `Bearer ${credentials.token}` }
    : { 'x-auth-email': credentials.email, 'x-auth-key': credentials.key };
}

async function send<T>(url: string, method: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    credentials: 'omit',
    cache: 'no-store',
  });
  if (res.status === 204) return { result: undefined as T, info: undefined };
  let json: Envelope<T> | undefined;
  try {
    json = (await res.json()) as Envelope<T>;
  } catch {
    throw new ApiFailure(res.status, undefined, `HTTP ${res.status} without a JSON answer`, undefined);
  }
  if (!res.ok || json.success === false) {
    const first = json.errors?.[0];
    throw new ApiFailure(
      res.status,
      first?.code,
      first?.message ?? `HTTP ${res.status}`,
      first?.source?.pointer,
    );
  }
  return { result: json.result, info: json.result_info };
}

/** One call to the public API with the signed-in credentials. */
export async function api<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}) {
  return send<T>(
    `${API_ROOT}${path}${queryString(options.query)}`,
    method,
    authHeaders(session.credentials()),
    options.body,
  );
}

/** One call to the admin API with the admin token. */
export async function admin<T>(method: string, path: string, body?: unknown) {
  const token = session.adminToken();
  return send<T>(`${ADMIN_ROOT}${path}`, method, token ? { authorization: `Bearer ${token}` } : {}, body);
}

/** Memberships per page (Cloudflare's largest) and pages read at most per sign-in, bounding the requests. */
const MEMBERSHIPS_PER_PAGE = 50;
const MAX_MEMBERSHIP_PAGES = 20;

/** The memberships read so far, by account id, and the next page to read (none once all are read). */
const directory = { byAccount: new Map<string, Membership>(), next: 1 as number | undefined, reads: 0 };
let reading: Promise<void> = Promise.resolve();

/**
 * The credential's membership of an account, from `GET /memberships`, read a page at a time only as far
 * as needed, in order, and kept for the session. Undefined for an account outside the scope (or past
 * the pages read at most).
 */
export function membershipOf(accountId: string): Promise<Membership | undefined> {
  // A failed read is retried by the next caller, never left blocking the queue.
  reading = reading
    .catch(() => undefined)
    .then(async () => {
      while (!directory.byAccount.has(accountId) && directory.next !== undefined) {
        if (directory.reads >= MAX_MEMBERSHIP_PAGES) return;
        const page = directory.next;
        directory.reads += 1;
        const { result, info } = await api<Membership[]>('GET', '/memberships', {
          query: { page, per_page: MEMBERSHIPS_PER_PAGE },
        });
        for (const m of result) directory.byAccount.set(m.account.id, m);
        directory.next = info && page < info.total_pages ? page + 1 : undefined;
      }
    });
  return reading.then(
    () => directory.byAccount.get(accountId),
    () => undefined,
  );
}

function forgetMemberships(): void {
  directory.byAccount.clear();
  directory.next = 1;
  directory.reads = 0;
}

/**
 * Whether the credential may change shares in this account: its membership's account-wide permission
 * (rshare grants the same on every key). Unknown counts as read-only (show less, not more).
 */
export async function canEdit(accountId: string): Promise<boolean> {
  return (await membershipOf(accountId))?.permissions.organization?.write === true;
}

/** Account names the credential may see, for the ids given (ids outside its scope stay unnamed). */
export async function accountNames(ids: readonly string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const id of new Set(ids)) {
    const m = await membershipOf(id);
    if (m) names.set(id, m.account.name);
  }
  return names;
}

// ---- API shapes the console reads: the server's own wire types ----

export type Account = AccountObject;
export type Membership = MembershipObject;
export type Share = ShareObject;
export type ShareStatus = ShareObject['status'];
export type Resource = ResourceObject;
export type Recipient = RecipientObject;
export type AssociationStatus = RecipientObject['association_status'];
export type ExcludedRecipient = ExcludedRecipientObject;
/** An entry of the audit log, version 2 (`GET /accounts/{account_id}/logs/audit`). */
export type AuditEntry = AuditLogV2;
export type { ResultInfo };
