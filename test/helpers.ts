import type { InjectOptions } from 'fastify';
import assert from 'node:assert/strict';
import { buildApp, type AppOptions } from '../src/app.js';
import type { Store } from '../src/adapters/store.js';
import type { App } from '../src/http/types.js';
import { ManualClock, type Clock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { deriveShareRecipients } from '../src/engine/reconciler/derive.js';
import { hashSecret } from '../src/lib/secrets.js';
import { openTestStore, type Sql, type StatementLog, type TestStoreOptions } from './support/store.js';

/** What every id rshare issues looks like. */
export const ID = /^[0-9a-f]{32}$/;
/** RFC 3339 UTC with microseconds. */
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
export const SHARE_NOT_FOUND = 'Share not found';
export const SHARE_DELETING = 'The share is deleting and can no longer be changed';

/** Readable fixed ids: `hexId(1)` is `000…001`. */
export const hexId = (n: number, prefix = ''): string => (prefix + n.toString(16)).padStart(32, '0');

/** Ids led by `prefix`: `prefixedId('c0', 1)` is `c000…001`, so bulk fixtures keep their kinds apart. */
export const prefixedId = (prefix: string, n: number): string =>
  prefix + n.toString(16).padStart(32 - prefix.length, '0');

export const ORG = hexId(1, 'a');
export const OTHER_ORG = hexId(2, 'a');
export const OWNER = hexId(1, 'b');
export const R1 = hexId(2, 'b');
export const R2 = hexId(3, 'b');
export const R3 = hexId(4, 'b');
export const STRANGER = hexId(5, 'b');
export const LONER = hexId(6, 'b');

/** Secrets of the fixture principals. */
export const TOKENS = {
  owner: 'owner-token-secret-value-0001',
  ownerRead: 'owner-read-token-secret-0002',
  r1: 'recipient-one-token-secret-03',
  r2: 'recipient-two-token-secret-04',
  stranger: 'stranger-token-secret-value5',
  org: 'organization-token-secret-06',
  disabled: 'disabled-token-secret-value7',
  expired: 'expired-token-secret-value-8',
  loner: 'loner-token-secret-value-0009',
} as const;
export const USER = { email: 'owner@acme.test', key: 'owner-global-api-key-0001' };

export interface Harness {
  app: App;
  store: Store;
  /** Raw SQL below the API (`?` placeholders), on whichever store the suite runs against. */
  sql: Sql;
  /** The database URL, for other processes. */
  databaseUrl: string;
  /** Statements (SQLite) or round trips (PostgreSQL) the store has sent. */
  statements: StatementLog;
  clock: SteppableClock;
  close(): Promise<void>;
}

/** A clock a test moves by hand: ManualClock, or the server's ControlledClock. */
export type SteppableClock = Clock & { advance(ms: number): void };

export interface SetupOptions {
  /** Default: a ManualClock at 2026-01-01. */
  clock?: SteppableClock;
  /** More options for buildApp (admin mount, faults, journal, ids, …). */
  app?: Omit<AppOptions, 'store' | 'clock'>;
  /** Options for the store (work timing). */
  store?: TestStoreOptions;
}

/**
 * A fresh database and app: organization ORG with OWNER and recipients R1..R3, OTHER_ORG with STRANGER,
 * LONER in no organization, and tokens for each of them.
 */
export async function setup(options: SetupOptions = {}): Promise<Harness> {
  const db = await openTestStore(options.store);
  const store = db.store;
  const clock = options.clock ?? new ManualClock();
  const t = store.tenancy;
  const now = clock.timestamp();
  for (const [id, name] of [
    [ORG, 'Acme'],
    [OTHER_ORG, 'Other'],
  ] as const) {
    await t.upsertOrganization({ id, name, created: now, modified: now });
  }
  const accounts: [string, string, string | null][] = [
    [OWNER, 'Acme Owner', ORG],
    [R1, 'Acme R1', ORG],
    [R2, 'Acme R2', ORG],
    [R3, 'Acme R3', ORG],
    [STRANGER, 'Stranger', OTHER_ORG],
    [LONER, 'Loner', null],
  ];
  for (const [id, name, organization_id] of accounts) {
    await t.upsertAccount({ id, name, organization_id, entitlements: null, created: now, modified: now });
  }
  const token = async (
    n: number,
    value: string,
    scope: { accounts?: string[]; organizations?: string[] },
    extra: { can_edit?: boolean; status?: 'active' | 'disabled'; expires_on?: string | null } = {},
  ) =>
    t.upsertToken({
      id: hexId(n, 'c'),
      name: `token-${n}`,
      secret_hash: hashSecret(value),
      can_edit: extra.can_edit ?? true,
      status: extra.status ?? 'active',
      expires_on: extra.expires_on ?? null,
      created: now,
      accounts: scope.accounts ?? [],
      organizations: scope.organizations ?? [],
    });
  await token(1, TOKENS.owner, { accounts: [OWNER] });
  await token(2, TOKENS.ownerRead, { accounts: [OWNER] }, { can_edit: false });
  await token(3, TOKENS.r1, { accounts: [R1] });
  await token(4, TOKENS.r2, { accounts: [R2] });
  await token(5, TOKENS.stranger, { accounts: [STRANGER] });
  await token(6, TOKENS.org, { organizations: [ORG] }, { can_edit: false });
  await token(7, TOKENS.disabled, { accounts: [OWNER] }, { status: 'disabled' });
  await token(8, TOKENS.expired, { accounts: [OWNER] }, { expires_on: '2025-01-01T00:00:00Z' });
  await token(9, TOKENS.loner, { accounts: [LONER] });
  await t.upsertUser({
    id: hexId(1, 'd'),
    email: USER.email,
    api_key_hash: hashSecret(USER.key),
    created: now,
    accounts: [OWNER],
    organizations: [ORG],
  });
  const app = await buildApp({ ...options.app, store, clock });
  return {
    app,
    store,
    sql: db.sql,
    databaseUrl: db.url,
    statements: db.statements,
    clock,
    async close() {
      await app.close();
      await db.close();
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
}

/** One request through `app.inject`, as `token` (default: the owner's edit token; null for none). */
export async function call(
  app: App,
  method: InjectOptions['method'],
  url: string,
  opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? TOKENS.owner : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await app.inject({
    method,
    url,
    headers,
    ...(opts.body === undefined ? {} : { payload: opts.body as InjectOptions['payload'] }),
  });
  const body = res.body === '' ? undefined : (JSON.parse(res.body) as unknown);
  return { status: res.statusCode, headers: res.headers, body };
}

/** Asserts a Cloudflare-style failure: status, code, message and (when given) pointer. */
export function assertError(
  res: Reply,
  status: number,
  code: number,
  message: string | RegExp,
  pointer?: string,
): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.body.success, false);
  assert.equal(res.body.result, null);
  assert.deepEqual(res.body.messages, []);
  assert.equal(res.body.errors.length, 1);
  const [e] = res.body.errors;
  assert.equal(e.code, code);
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  assert.deepEqual(e.source, pointer === undefined ? undefined : { pointer });
}

/**
 * Asserts a failure whose `errors` are exactly `errors` (several entries, `error_chain`, no pointer
 * unless given): for the answers Cloudflare sends before a request reaches an operation.
 */
export function assertErrors(res: Reply, status: number, errors: readonly object[]): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(res.body, { success: false, errors, messages: [], result: null });
}

/** Cloudflare's refusal of a malformed credential header, with the causes (6111, 6102, 6103) it names. */
export const headerErrors = (...causes: [number, string][]) => [
  {
    code: 6003,
    message: 'Invalid request headers',
    error_chain: causes.map(([code, message]) => ({ code, message })),
  },
];
export const BAD_AUTHORIZATION: [number, string] = [6111, 'Invalid format for Authorization header'];
export const BAD_EMAIL: [number, string] = [6102, 'Invalid format for X-Auth-Email header'];
export const BAD_KEY: [number, string] = [6103, 'Invalid format for X-Auth-Key header'];

/** Cloudflare's router refusing an id segment that is not an id: the path (no query), then 7000. */
export const routeErrors = (path: string) => [
  { code: 7003, message: `Could not route to ${path}, perhaps your object identifier is invalid?` },
  { code: 7000, message: 'No route for that URI' },
];

export const base = (account = OWNER) => `/client/v4/accounts/${account}/shares`;

/** The seed example body of "Create a new share". */
export const seedShareBody = (recipient = R1) => ({
  name: 'My Shared WAF Managed Rule',
  recipients: [{ recipient_account_id: recipient }],
  resources: [
    {
      meta: {},
      resource_account_id: OWNER,
      resource_id: '023e105f4ecef8ad9ca31a8372d0c353',
      resource_type: 'custom-ruleset',
    },
  ],
});

/**
 * The reconciler's first step on a new organization-targeted share: derives its recipients (left
 * `associating`, nothing delivered). A create answers before this fan-out, so tests about the recipients
 * of such a share run it first (or a whole `reconcileOnce()`).
 */
export async function fanOut(h: Harness, shareId: string): Promise<void> {
  await deriveShareRecipients(h.store.reconciler, shareId, h.clock.timestamp(), newId, Infinity);
}
