/**
 * The same-work floor (forked child): node:http plus better-sqlite3 or pg on a minimal schema of its own,
 * doing only the reads and writes the three benched answers need, with no framework. GET share: hash the
 * token, one indexed scope lookup, one share read joined to its account name. List (100 with resources):
 * the same auth, one page query, the page's resources in one query, one count. Create (2 recipients,
 * 1 resource): the same auth, parse and check the body, one transaction writing the share, recipients,
 * resource, one work item and one audit entry. On PostgreSQL with the fewest round trips: GET in one
 * statement, the list in two, the create in two (one a CTE writing every row). Protocol: one
 * `FloorConfig` message; it answers `{ port, shareId }` once seeded and listening on 127.0.0.1.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { v7 } from 'uuid';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';

export interface FloorConfig {
  store: 'sqlite' | 'postgres';
  /** A SQLite file path, or the URL of an empty PostgreSQL database. */
  database: string;
  token: string;
  org: string;
  owner: string;
  accounts: string[];
  shares: number;
}

process.once('disconnect', () => process.exit(0));

const SCHEMA = `CREATE TABLE tokens (hash TEXT PRIMARY KEY, id TEXT NOT NULL);
CREATE TABLE token_accounts (token_id TEXT, account_id TEXT, PRIMARY KEY (token_id, account_id));
CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, organization_id TEXT NOT NULL);
CREATE TABLE shares (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, organization_id TEXT NOT NULL, name TEXT NOT NULL,
  target_type TEXT NOT NULL, status TEXT NOT NULL, tags TEXT NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX shares_account ON shares (account_id, created, id);
CREATE TABLE recipients (id TEXT PRIMARY KEY, share_id TEXT NOT NULL, account_id TEXT NOT NULL, status TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE resources (id TEXT PRIMARY KEY, share_id TEXT NOT NULL, resource_id TEXT NOT NULL,
  resource_type TEXT NOT NULL, resource_account_id TEXT NOT NULL, meta TEXT NOT NULL, status TEXT NOT NULL,
  resource_version INTEGER NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX resources_share ON resources (share_id, created, id);
CREATE TABLE work (kind TEXT, id TEXT, due_at BIGINT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE audit (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, time TEXT NOT NULL, body TEXT NOT NULL);`;

const AUTH =
  'SELECT 1 AS ok FROM tokens t JOIN token_accounts ta ON ta.token_id = t.id WHERE t.hash = $1 AND ta.account_id = $2';
const SHARE = `SELECT s.id, s.name, s.account_id, a.name AS account_name, s.organization_id, s.created, s.modified,
  s.status, s.target_type, s.tags FROM shares s JOIN accounts a ON a.id = s.account_id`;
const PAGE = `${SHARE} WHERE s.account_id = $1 ORDER BY s.created, s.id LIMIT 100`;
const RESOURCE_COLUMNS = `id, share_id, resource_id, resource_type, resource_account_id, meta, status, resource_version,
  created, modified`;
const COUNT = 'SELECT COUNT(*) AS n FROM shares WHERE account_id = $1';

type Row = Record<string, unknown> & { id: string; tags: string };
type ResourceRow = Record<string, unknown> & { share_id: string; meta: string };
interface Share {
  id: string;
  account_id: string;
  org: string;
  name: string;
  tags: string;
  now: string;
  recipients: { id: string; account_id: string }[];
  resource: Record<string, unknown> & { id: string; meta: string };
}

/** The store half: answers in rows, the same for both databases. */
interface Floor {
  get(hash: string, account: string, id: string): Promise<Row | undefined>;
  list(
    hash: string,
    account: string,
  ): Promise<{ rows: Row[]; resources: ResourceRow[]; total: number } | undefined>;
  create(hash: string, share: Share): Promise<boolean>;
}

const sqliteText = (sql: string) => sql.replace(/\$\d+/g, '?');

function sqliteFloor(path: string): Floor {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  const auth = db.prepare(sqliteText(AUTH));
  const one = db.prepare(sqliteText(`${SHARE} WHERE s.id = $1 AND s.account_id = $2`));
  const page = db.prepare(sqliteText(PAGE));
  const resources = db.prepare(
    `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE share_id IN (SELECT value FROM json_each(?)) ORDER BY created, id`,
  );
  const count = db.prepare(sqliteText(COUNT)).pluck();
  const insertShare = db.prepare(`INSERT INTO shares VALUES (?, ?, ?, ?, 'account', 'active', ?, ?, ?)`);
  const insertRecipient = db.prepare(`INSERT INTO recipients VALUES (?, ?, ?, 'associating', ?)`);
  const insertResource = db.prepare(`INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, 'active', 1, ?, ?)`);
  const insertWork = db.prepare(`INSERT INTO work VALUES ('share', ?, 0) ON CONFLICT DO NOTHING`);
  const insertAudit = db.prepare('INSERT INTO audit VALUES (?, ?, ?, ?)');
  const write = db.transaction((s: Share) => {
    insertShare.run(s.id, s.account_id, s.org, s.name, s.tags, s.now, s.now);
    for (const r of s.recipients) insertRecipient.run(r.id, s.id, r.account_id, s.now);
    const r = s.resource;
    insertResource.run(
      r.id,
      s.id,
      r.resource_id,
      r.resource_type,
      r.resource_account_id,
      r.meta,
      s.now,
      s.now,
    );
    insertWork.run(s.id);
    insertAudit.run(v7(), s.account_id, s.now, JSON.stringify({ action: 'create', share: s.id }));
  });
  const allowed = (hash: string, account: string) => auth.get(hash, account) !== undefined;
  return {
    get: async (hash, account, id) => (allowed(hash, account) ? (one.get(id, account) as Row) : undefined),
    list: async (hash, account) => {
      if (!allowed(hash, account)) return undefined;
      const rows = page.all(account) as Row[];
      const res = resources.all(JSON.stringify(rows.map((r) => r.id))) as ResourceRow[];
      return { rows, resources: res, total: count.get(account) as number };
    },
    create: async (hash, s) => allowed(hash, s.account_id) && (write(s), true),
  };
}

async function postgresFloor(url: string): Promise<Floor> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  await pool.query(SCHEMA);
  const authed = `WITH auth AS (${AUTH})`;
  const get = `${authed} ${SHARE} WHERE s.id = $3 AND s.account_id = $2 AND EXISTS (SELECT 1 FROM auth)`;
  const page = `${authed} SELECT (${COUNT.replace('$1', '$2')}) AS total, p.* FROM (SELECT 1 FROM auth) x
    LEFT JOIN LATERAL (${PAGE.replace('$1', '$2')}) p ON true`;
  const create = `WITH sh AS (INSERT INTO shares VALUES ($1, $2, $3, $4, 'account', 'active', $15, $5, $5) RETURNING id),
    rc AS (INSERT INTO recipients SELECT u.id, sh.id, u.account_id, 'associating', $5
      FROM sh, unnest($6::text[], $7::text[]) AS u (id, account_id)),
    rs AS (INSERT INTO resources SELECT $8, sh.id, $9, $10, $11, $12, 'active', 1, $5, $5 FROM sh),
    wk AS (INSERT INTO work SELECT 'share', sh.id, 0 FROM sh ON CONFLICT DO NOTHING)
    INSERT INTO audit SELECT $13, $2, $5, $14 FROM sh`;
  return {
    get: async (hash, account, id) => (await pool.query<Row>(get, [hash, account, id])).rows[0],
    list: async (hash, account) => {
      const { rows } = await pool.query<Row & { total: string }>(page, [hash, account]);
      if (rows.length === 0) return undefined;
      const page_ = rows.filter((r) => r.id !== null);
      const ids = page_.map((r) => r.id);
      const res = await pool.query<ResourceRow>(
        `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE share_id = ANY($1) ORDER BY created, id`,
        [ids],
      );
      return { rows: page_, resources: res.rows, total: Number(rows[0]?.total) };
    },
    create: async (hash, s) => {
      if ((await pool.query(AUTH, [hash, s.account_id])).rows.length === 0) return false;
      const r = s.resource;
      await pool.query(create, [
        ...[s.id, s.account_id, s.org, s.name, s.now],
        ...[s.recipients.map((x) => x.id), s.recipients.map((x) => x.account_id)],
        ...[r.id, r.resource_id, r.resource_type, r.resource_account_id, r.meta],
        ...[v7(), JSON.stringify({ action: 'create', share: s.id }), s.tags],
      ]);
      return true;
    },
  };
}

const ENVELOPE = (result: unknown, extra = '') =>
  `{"errors":[],"messages":[],"success":true,"result":${JSON.stringify(result)}${extra}}`;

function shareObject(r: Row): Record<string, unknown> {
  const { tags, ...rest } = r;
  return { ...rest, kind: 'sent', tags: JSON.parse(tags) as unknown };
}

const now = () => new Date().toISOString().replace('Z', '000Z');
// Time-ordered ids, as rshare's: both write the same kind of keys, so neither pays a random index page
// per row that the other does not.
const newId = () => v7().replaceAll('-', '');

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const NOT_FOUND =
  '{"errors":[{"code":1003,"message":"Not found"}],"messages":[],"success":false,"result":null}';

async function handle(
  floor: Floor,
  cfg: FloorConfig,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const m = /^\/client\/v4\/accounts\/([0-9a-f]{32})\/shares(?:\/([0-9a-f]{32}))?(?:\?|$)/.exec(
    req.url ?? '',
  );
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!m?.[1] || !bearer) return send(res, 404, NOT_FOUND);
  const hash = createHash('sha256').update(bearer).digest('hex');
  const account = m[1];
  if (req.method === 'GET' && m[2]) {
    const row = await floor.get(hash, account, m[2]);
    return row ? send(res, 200, ENVELOPE(shareObject(row))) : send(res, 404, NOT_FOUND);
  }
  if (req.method === 'GET') {
    const page = await floor.list(hash, account);
    if (!page) return send(res, 404, NOT_FOUND);
    const byShare = new Map<string, Record<string, unknown>[]>();
    for (const { share_id, meta, ...r } of page.resources) {
      const list = byShare.get(share_id) ?? [];
      list.push({ ...r, meta: JSON.parse(meta) as unknown });
      byShare.set(share_id, list);
    }
    const items = page.rows.map((r) => ({ ...shareObject(r), resources: byShare.get(r.id) ?? [] }));
    const info = { page: 1, per_page: 100, count: items.length, total_count: page.total };
    return send(res, 200, ENVELOPE(items, `,"result_info":${JSON.stringify(info)}`));
  }
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    name?: unknown;
    recipients?: { recipient_account_id?: unknown }[];
    resources?: Record<string, unknown>[];
    tags?: Record<string, string>;
  };
  const recipients = Array.isArray(body.recipients) ? body.recipients : [];
  const resource = Array.isArray(body.resources) ? body.resources[0] : undefined;
  if (
    typeof body.name !== 'string' ||
    recipients.some((r) => typeof r.recipient_account_id !== 'string') ||
    !resource
  )
    return send(res, 400, NOT_FOUND);
  const share: Share = {
    id: newId(),
    account_id: account,
    org: cfg.org,
    name: body.name,
    tags: JSON.stringify(body.tags ?? {}),
    now: now(),
    recipients: recipients.map((r) => ({ id: newId(), account_id: String(r.recipient_account_id) })),
    resource: { ...resource, id: newId(), meta: JSON.stringify(resource.meta ?? {}) },
  };
  if (!(await floor.create(hash, share))) return send(res, 404, NOT_FOUND);
  const { id, name, account_id, now: created } = share;
  const result = {
    id,
    name,
    account_id,
    organization_id: cfg.org,
    created,
    modified: created,
    status: 'active',
  };
  return send(res, 201, ENVELOPE({ ...result, target_type: 'account', kind: 'sent', tags: body.tags ?? {} }));
}

async function seed(floor: Floor, cfg: FloorConfig, db: (sql: string, params: unknown[]) => Promise<void>) {
  const hash = createHash('sha256').update(cfg.token).digest('hex');
  await db('INSERT INTO tokens VALUES ($1, $2)', [hash, 'floor-token']);
  for (const [i, a] of cfg.accounts.entries()) {
    await db('INSERT INTO accounts VALUES ($1, $2, $3)', [a, `Account ${i}`, cfg.org]);
    await db('INSERT INTO token_accounts VALUES ($1, $2)', ['floor-token', a]);
  }
  let last = '';
  for (let i = 0; i < cfg.shares; i++) {
    last = newId();
    const resource = {
      resource_id: newId(),
      resource_type: 'custom-ruleset',
      resource_account_id: cfg.owner,
    };
    const r = {
      ...resource,
      id: newId(),
      meta: JSON.stringify({ description: `bench resource ${i}`, priority: i }),
    };
    const recipients = cfg.accounts.slice(1, 3).map((account_id) => ({ id: newId(), account_id }));
    const s = {
      id: last,
      account_id: cfg.owner,
      org: cfg.org,
      name: `floor share ${i}`,
      tags: '{"env":"bench","team":"platform"}',
      now: now(),
      recipients,
    };
    await floor.create(hash, { ...s, resource: r });
  }
  return last;
}

process.once('message', (cfg: FloorConfig) => {
  void (async () => {
    const floor = cfg.store === 'sqlite' ? sqliteFloor(cfg.database) : await postgresFloor(cfg.database);
    const direct =
      cfg.store === 'sqlite'
        ? (
            (d) => async (sql: string, p: unknown[]) =>
              void d.prepare(sqliteText(sql)).run(...p)
          )(new Database(cfg.database))
        : (
            (pool) => async (sql: string, p: unknown[]) =>
              void (await pool.query(sql, p))
          )(new pg.Pool({ connectionString: cfg.database, max: 1 }));
    const shareId = await seed(floor, cfg, direct);
    const server = createServer((req, res) => {
      handle(floor, cfg, req, res).catch((err: unknown) => send(res, 500, JSON.stringify(String(err))));
    });
    server.keepAliveTimeout = 72_000;
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      process.send?.({ port: typeof address === 'object' && address ? address.port : 0, shareId });
    });
    process.once('SIGTERM', () => server.close(() => process.exit(0)));
  })();
});
