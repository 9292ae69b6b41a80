import type { InjectOptions } from 'fastify';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hashSecret } from '../../src/lib/secrets.js';
import {
  call,
  fanOut,
  hexId,
  ORG,
  OWNER,
  R1,
  R2,
  R3,
  STRANGER,
  TOKENS,
  USER,
  type Harness,
} from '../helpers.js';

/**
 * The "Authorization matrix" table of docs/authorization.md, read as data: that page is the single source of the
 * expected answers, so editing a cell there changes what test/authorization-matrix.test.ts asserts.
 */

export const MATRIX_HEADING = '## Authorization matrix';
/** Account routes are written `…/shares` in the table, for `/accounts/{account_id}/shares`. */
const ACCOUNT_PREFIX = '/accounts/{account_id}';

export interface Expected {
  status: number;
  /** The error code (absent for a success). */
  code?: number;
}

export interface MatrixRow {
  operationId: string;
  method: NonNullable<InjectOptions['method']>;
  /** The full path template, e.g. `/accounts/{account_id}/shares/{share_id}`. */
  path: string;
  cells: Map<string, Expected>;
}

export interface Matrix {
  columns: string[];
  rows: MatrixRow[];
}

const cellsOf = (line: string): string[] =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim().replace(/^`|`$/g, ''));

function parseCell(text: string, where: string): Expected {
  const m = /^(\d{3})(?: (\d+))?$/.exec(text);
  assert.ok(m, `${where}: a cell is "status" or "status code", got "${text}"`);
  return m[2] === undefined ? { status: Number(m[1]) } : { status: Number(m[1]), code: Number(m[2]) };
}

/** The first table under the matrix heading: `| operationId | METHOD path | one cell per caller |`. */
export function parseMatrix(readme: string): Matrix {
  const start = readme.indexOf(`\n${MATRIX_HEADING}\n`);
  assert.ok(start >= 0, `docs/authorization.md has no "${MATRIX_HEADING}" section`);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  const [header, separator, ...body] = lines.slice(first, end);
  assert.ok(header && separator && body.length > 0, 'the matrix is a table with a header and rows');
  const columns = cellsOf(header).slice(2);
  const rows = body.map((line): MatrixRow => {
    const [operationId = '', request = '', ...cells] = cellsOf(line);
    assert.equal(cells.length, columns.length, `${operationId}: one cell per column`);
    const [method = '', path = ''] = request.split(' ');
    return {
      operationId,
      method: method as MatrixRow['method'],
      path: path.replace(/^…/, ACCOUNT_PREFIX),
      cells: new Map(columns.map((c, i) => [c, parseCell(cells[i] as string, `${operationId} × ${c}`)])),
    };
  });
  return { columns, rows };
}

/** The message each error code of the matrix carries. */
export const MESSAGES: Record<number, string> = {
  1000: 'Invalid API Token',
  1404: 'Share not found',
  6003: 'Invalid request headers',
  9103: 'Unknown X-Auth-Key or X-Auth-Email',
  9106: 'Missing X-Auth-Key, X-Auth-Email or Authorization headers',
  10000: 'Authentication error',
};

/** The `error_chain` each code of the matrix carries (the malformed column sends only `Authorization`). */
export const CHAINS: Record<number, { code: number; message: string }[]> = {
  6003: [{ code: 6111, message: 'Invalid format for Authorization header' }],
};

/** A second user, so a valid key sent with another user's email is one of the "wrong email" cases. */
export const OTHER_USER = { email: 'someone@other.test', key: 'other-user-global-api-key-02' };

export interface Caller {
  /** The account the request's path names. */
  account: string;
  /** The caller's own account when the path names another; its own account is tried too where it matters. */
  home?: string;
  /** Header sets that must all get the cell's answer (one, or several that must be told apart by nothing). */
  variants: Record<string, string>[];
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const user = (email: string, key: string) => ({ 'x-auth-email': email, 'x-auth-key': key });

/** What each column of the table sends; the page's legend says the same in words. */
export const CALLERS: Record<string, Caller> = {
  none: { account: OWNER, variants: [{}] },
  malformed: {
    account: OWNER,
    variants: [
      { authorization: 'Basic b3duZXI6c2VjcmV0' },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${TOKENS.owner} extra` },
    ],
  },
  'unknown key': { account: OWNER, variants: [user(USER.email, 'not-the-users-global-key-01')] },
  'wrong email': {
    account: OWNER,
    variants: [user('nobody@acme.test', USER.key), user(OTHER_USER.email, USER.key)],
  },
  disabled: { account: OWNER, variants: [bearer(TOKENS.disabled), bearer('no-such-token-secret-value-99')] },
  expired: { account: OWNER, variants: [bearer(TOKENS.expired)] },
  stranger: { account: OWNER, home: STRANGER, variants: [bearer(TOKENS.stranger)] },
  'read-only': { account: OWNER, variants: [bearer(TOKENS.ownerRead)] },
  recipient: { account: R1, variants: [bearer(TOKENS.r1)] },
  'org-only': { account: OWNER, variants: [bearer(TOKENS.org)] },
  owner: { account: OWNER, variants: [bearer(TOKENS.owner)] },
  user: { account: OWNER, variants: [user(USER.email, USER.key)] },
};

export const randomId = (): string => randomBytes(16).toString('hex');

/** The objects a request names: S (account-targeted) and its sub-objects, O (organization-wide) and its exclusion. */
export interface Target {
  share: string;
  recipient: string;
  resource: string;
  orgShare: string;
  exclusion: string;
}

/** Ids that name nothing, for the "does this exist?" comparisons. */
export const unknownTarget = (): Target => ({
  share: randomId(),
  recipient: randomId(),
  resource: randomId(),
  orgShare: randomId(),
  exclusion: randomId(),
});

/** A valid body for each operation that takes one, for `account` in the path. */
const BODIES: Record<string, (account: string) => unknown> = {
  'share-create': (account) => ({
    name: 'Matrix share',
    recipients: [{ recipient_account_id: account === R1 ? R2 : R1 }],
    resources: [
      { meta: {}, resource_account_id: account, resource_id: randomId(), resource_type: 'custom-ruleset' },
    ],
  }),
  'share-update': () => ({ name: 'Renamed by the matrix' }),
  'share-recipient-create': () => ({ recipient_account_id: R2 }),
  'share-recipients-update': () => [{ recipient_account_id: R1 }, { recipient_account_id: R2 }],
  'share-resource-create': () => ({
    meta: {},
    resource_account_id: OWNER,
    resource_id: randomId(),
    resource_type: 'gateway-policy',
  }),
  'share-resource-update': () => ({ meta: { changed: true } }),
  'share-excluded-recipient-create': () => ({ account_id: R2 }),
  'share-excluded-recipients-update': () => [{ account_id: R3 }, { account_id: R2 }],
};

/** A valid query for each operation that requires one. */
const QUERIES: Record<string, string> = {
  'audit-logs-v2-get-account-audit-logs': 'since=2025-01-01T00:00:00Z&before=2027-01-01T00:00:00Z',
};

export const takesBody = (row: MatrixRow): boolean => row.method === 'POST' || row.method === 'PUT';
export const hasBody = (operationId: string): boolean => operationId in BODIES;
export const isWrite = (row: MatrixRow): boolean => row.method !== 'GET';
/** Routes that name a share (or one of its sub-objects): these must never tell a stranger it exists. */
export const isObjectRoute = (row: MatrixRow): boolean => row.path.includes('{share_id}');

export interface Request {
  method: MatrixRow['method'];
  url: string;
  body?: unknown;
}

/** The concrete request of a row: the table's path with the target's ids, and the operation's valid query and body. */
export function requestFor(row: MatrixRow, account: string, target: Target): Request {
  const orgWide = row.path.includes('/excluded-recipients');
  const values: Record<string, string> = {
    account_id: account,
    organization_id: ORG,
    share_id: orgWide ? target.orgShare : target.share,
    recipient_id: target.recipient,
    share_resource_id: target.resource,
    excluded_recipient_id: target.exclusion,
  };
  const url = `/client/v4${row.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = values[name];
    assert.ok(value, `${row.operationId}: no value for {${name}}`);
    return value;
  })}${row.operationId in QUERIES ? `?${QUERIES[row.operationId]}` : ''}`;
  const body = BODIES[row.operationId];
  return body ? { method: row.method, url, body: body(account) } : { method: row.method, url };
}

/** The raw answer, so "the same answer" can be compared byte for byte. */
export async function send(h: Harness, request: Request, headers: Record<string, string>) {
  const res = await h.app.inject({
    method: request.method,
    url: request.url,
    headers,
    ...(request.body === undefined ? {} : { payload: request.body as InjectOptions['payload'] }),
  });
  return { status: res.statusCode, type: res.headers['content-type'], body: res.body };
}

/**
 * The fixture's objects, all owned by OWNER in ORG: S targets R1 (one resource); O targets the whole
 * organization with R3 excluded, fanned out so R1 is one of its recipients too. Each change gets its own
 * (`parts` says which), so a change that succeeds never consumes the objects other cells read.
 */
export async function makeTarget(h: Harness, parts: 'share' | 'org' | 'both' = 'both'): Promise<Target> {
  const post = async (url: string, body: unknown) => {
    const res = await call(h.app, 'POST', url, { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.result as { id: string };
  };
  const list = async (url: string) => (await call(h.app, 'GET', url)).body.result as { id: string }[];
  const base = `/client/v4/accounts/${OWNER}/shares`;
  const target: Target = { share: '', recipient: '', resource: '', orgShare: '', exclusion: '' };
  if (parts !== 'org') {
    const share = await post(base, {
      name: 'Matrix S',
      recipients: [{ recipient_account_id: R1 }],
      resources: [
        { meta: {}, resource_account_id: OWNER, resource_id: randomId(), resource_type: 'custom-ruleset' },
      ],
    });
    target.share = share.id;
    target.recipient = (await list(`${base}/${share.id}/recipients`))[0]?.id ?? '';
    target.resource = (await list(`${base}/${share.id}/resources`))[0]?.id ?? '';
  }
  if (parts !== 'share') {
    const org = await post(base, { name: 'Matrix O', recipients: [{ organization_id: ORG }], resources: [] });
    target.orgShare = org.id;
    target.exclusion = (await post(`${base}/${org.id}/excluded-recipients`, { account_id: R3 })).id;
    await fanOut(h, org.id);
  }
  return target;
}

/** The objects a row's request needs fresh (a change gets its own, so the shared fixture is never consumed). */
export const partsOf = (row: MatrixRow): 'share' | 'org' =>
  row.path.includes('/excluded-recipients') ? 'org' : 'share';

/** The second user of the "wrong email" column (scoped to STRANGER, never to the owner's tenancy). */
export async function addOtherUser(h: Harness): Promise<void> {
  await h.store.tenancy.upsertUser({
    id: hexId(2, 'd'),
    email: OTHER_USER.email,
    api_key_hash: hashSecret(OTHER_USER.key),
    created: h.clock.timestamp(),
    accounts: [STRANGER],
    organizations: [],
  });
}
