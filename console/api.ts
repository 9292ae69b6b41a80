/**
 * The console's only way to the server: the public API (and, with the admin token, the admin API) on this
 * origin, with the credentials the user typed. They live in this tab's sessionStorage (never a cookie the
 * server could replay, never logged) and signing out forgets them.
 */

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

export interface ResultInfo {
  page: number;
  per_page: number;
  count: number;
  total_count: number;
  total_pages: number;
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

// ---- API shapes the console reads ----

export interface Account {
  id: string;
  name: string;
  type: string;
  created_on?: string;
  managed_by?: { parent_org_id?: string; parent_org_name?: string };
}

export interface Membership {
  id: string;
  account: Account;
  permissions: Record<string, { read?: boolean; write?: boolean } | undefined>;
  roles: string[];
  status: 'accepted' | 'pending' | 'rejected';
}

export type ShareStatus = 'active' | 'deleting' | 'deleted';

export interface Resource {
  id: string;
  resource_id: string;
  resource_type: string;
  resource_account_id: string;
  meta: Record<string, unknown>;
  status: ShareStatus;
  resource_version: number;
  created: string;
  modified: string;
}

export interface Share {
  id: string;
  name: string;
  account_id: string;
  account_name: string;
  organization_id: string;
  created: string;
  modified: string;
  status: ShareStatus;
  target_type: 'account' | 'organization';
  kind?: 'sent' | 'received';
  tags?: Record<string, string>;
  associating_recipient_count?: number;
  associated_recipient_count?: number;
  disassociating_recipient_count?: number;
  disassociated_recipient_count?: number;
}

export type AssociationStatus = 'associating' | 'associated' | 'disassociating' | 'disassociated';

export interface Recipient {
  id: string;
  account_id: string;
  association_status: AssociationStatus;
  created: string;
  modified: string;
  resources?: { resource_id: string; resource_version: number; error: string; terminal: boolean }[];
}

export interface ExcludedRecipient {
  id: string;
  account_id: string;
  created: string;
}

export interface AuditEntry {
  id: string;
  action: { description: string; result: string; time: string; type: string };
  actor: { id?: string; email?: string; token_name?: string; type: string; context?: string };
  resource: { id: string; type: string; response: unknown; request: unknown };
}

// The one list the server validates against, bundled from its source.
export { RESOURCE_TYPES } from '../src/lib/resource-types.js';
