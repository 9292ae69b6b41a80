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
    permissions.clear();
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

/** An id that names no share: the permission probe's target. */
const NO_SHARE = '0'.repeat(32);
const permissions = new Map<string, Promise<boolean>>();

/**
 * Whether the credential may change shares in this account, asked without changing anything: a valid
 * rename of a share id that cannot exist. Authorization runs before any handler, so a read-only token is
 * refused with 403 (code 10000) and a token that may edit reaches the handler, which answers 404. Refused
 * requests change nothing and write no audit entry. Anything else counts as read-only (show less, not more).
 */
export function canEdit(accountId: string): Promise<boolean> {
  let known = permissions.get(accountId);
  if (!known) {
    known = api('PUT', `/accounts/${accountId}/shares/${NO_SHARE}`, {
      body: { name: 'permission probe' },
    }).then(
      () => false,
      (err: unknown) => err instanceof ApiFailure && err.status === 404,
    );
    permissions.set(accountId, known);
  }
  return known;
}

// ---- API shapes the console reads ----

export interface Account {
  id: string;
  name: string;
  type: string;
  created_on?: string;
  managed_by?: { parent_org_id?: string; parent_org_name?: string };
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
