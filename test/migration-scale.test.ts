import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../src/adapters/store.js';
import { loadMigrations } from '../src/adapters/migrations.js';
import type { ShareListQuery } from '../src/cloudflare/shares/store.js';
import { hexId } from './helpers.js';
import { createPostgresDatabase, PG_URL } from './support/store.js';

/**
 * Migration 003 on a store that already holds shares: share numbers, organization counters and the
 * share_visibility rows are backfilled from what is there, and the triggers take over from then on.
 */

const ORG = hexId(1, 'a');
const [A, B, C] = [hexId(1, 'b'), hexId(2, 'b'), hexId(3, 'b')];
const SHARES = [hexId(1, 'e'), hexId(2, 'e'), hexId(3, 'e')];
const at = (n: number) => `2026-01-01T00:00:0${n}.000000Z`;

/** Rows written at schema version 2: A sends three shares; B receives all three, C only the first (then removed). */
const V2_ROWS: [string, unknown[]][] = [
  ['INSERT INTO organizations (id, name, created, modified) VALUES (?, ?, ?, ?)', [ORG, 'Org', at(0), at(0)]],
  ...[A, B, C].map((id): [string, unknown[]] => [
    'INSERT INTO accounts (id, name, organization_id, entitlements, created, modified) VALUES (?, ?, ?, NULL, ?, ?)',
    [id, `Account ${id.slice(-1)}`, ORG, at(0), at(0)],
  ]),
  ...SHARES.flatMap((id, i): [string, unknown[]][] => [
    [
      `INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified)
       VALUES (?, ?, ?, ?, 'account', ?, ?, ?)`,
      [id, A, ORG, `share ${i}`, i === 2 ? 'deleting' : 'active', at(i + 1), at(i + 1)],
    ],
    ['INSERT INTO share_tags (share_id, key, value) VALUES (?, ?, ?)', [id, 'env', i === 1 ? 'dev' : 'prod']],
    [
      `INSERT INTO share_recipients (id, share_id, account_id, desired_status, status, created, modified)
       VALUES (?, ?, ?, 'associated', 'associated', ?, ?)`,
      [hexId(10 + i, 'f'), id, B, at(i + 1), at(i + 1)],
    ],
  ]),
  [
    `INSERT INTO share_recipients (id, share_id, account_id, desired_status, status, created, modified)
     VALUES (?, ?, ?, 'disassociated', 'disassociated', ?, ?)`,
    [hexId(20, 'f'), SHARES[0], C, at(1), at(1)],
  ],
];

const query = (scope: ShareListQuery['scope'], extra: Partial<ShareListQuery> = {}): ShareListQuery => ({
  scope,
  order: 'created',
  direction: 'asc',
  limit: 10,
  offset: 0,
  ...extra,
});

/** A store at schema version 2 holding V2_ROWS, then opened (and so migrated) by this version. */
async function upgradedStore(): Promise<{ store: Store; close(): Promise<void> }> {
  const v2 = (kind: 'sqlite' | 'postgres') => loadMigrations(kind).filter((m) => m.version <= 2);
  if (PG_URL) {
    const { createPool, migrate } = await import('../src/adapters/postgres/database.js');
    const { openPostgresStore } = await import('../src/adapters/postgres/index.js');
    const database = await createPostgresDatabase(PG_URL);
    const pool = createPool(database.url);
    await migrate(pool, v2('postgres'));
    for (const [text, params] of V2_ROWS) {
      let n = 0;
      await pool.query(
        text.replace(/\?/g, () => `$${++n}`),
        params,
      );
    }
    await pool.end();
    const store = await openPostgresStore(database.url);
    return {
      store,
      async close() {
        await store.close();
        await database.drop();
      },
    };
  }
  const { migrate, openDatabase } = await import('../src/adapters/sqlite/database.js');
  const { openSqliteStore } = await import('../src/adapters/sqlite/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'rshare-migration-'));
  const path = join(dir, 'rshare.db');
  const db = openDatabase(path);
  migrate(db, v2('sqlite'));
  for (const [text, params] of V2_ROWS) db.prepare(text).run(...params);
  db.close();
  const store = openSqliteStore(path);
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('migration 003 on a store holding shares', () => {
  let store: Store;
  let close: () => Promise<void>;
  before(async () => {
    ({ store, close } = await upgradedStore());
  });
  after(async () => {
    await close();
  });

  test('given shares written before 003, when listed by their owner, then every one, tags filterable', async () => {
    const sent = await store.shares.list(query({ accountId: A }));
    assert.deepEqual(
      sent.rows.map((s) => s.id),
      SHARES,
    );
    assert.equal(sent.total, 3);
    const prod = await store.shares.list(query({ accountId: A }, { tags: [{ key: 'env', value: 'prod' }] }));
    assert.deepEqual(
      prod.rows.map((s) => s.id),
      [SHARES[0], SHARES[2]],
    );
    const deleting = await store.shares.list(query({ accountId: A }, { status: 'deleting' }));
    assert.deepEqual(
      deleting.rows.map((s) => s.id),
      [SHARES[2]],
    );
  });

  test('given recipients written before 003, when listed by recipients, then only active ones receive', async () => {
    const b = await store.shares.list(query({ accountId: B }, { kind: 'received', direction: 'desc' }));
    assert.deepEqual(
      b.rows.map((s) => s.id),
      [...SHARES].reverse(),
    );
    const c = await store.shares.list(query({ accountId: C }));
    assert.deepEqual(c, { rows: [], total: 0 });
  });

  test('given shares written before 003, when paging the organization, then numbered in creation order', async () => {
    const last = await store.shares.list(query({ organizationId: ORG }, { direction: 'desc', limit: 2 }));
    assert.deepEqual(
      last.rows.map((s) => s.id),
      [SHARES[2], SHARES[1]],
    );
    assert.equal(last.total, 3);
    const second = await store.shares.list(query({ organizationId: ORG }, { limit: 1, offset: 1 }));
    assert.deepEqual(
      second.rows.map((s) => s.id),
      [SHARES[1]],
    );
  });

  test('given an upgraded store, when a share is created, then it takes the next number and is listed', async () => {
    const id = hexId(4, 'e');
    await store.shares.create({
      share: {
        id,
        account_id: A,
        organization_id: ORG,
        name: 'after the upgrade',
        target_type: 'account',
        status: 'active',
        created: at(9),
        modified: at(9),
      },
      tags: { env: 'prod' },
      recipients: [
        {
          id: hexId(30, 'f'),
          share_id: id,
          account_id: C,
          desired_status: 'associated',
          status: 'associating',
          created: at(9),
          modified: at(9),
        },
      ],
      resources: [],
    });
    const org = await store.shares.list(query({ organizationId: ORG }, { direction: 'desc', limit: 1 }));
    assert.deepEqual(
      org.rows.map((s) => s.id),
      [id],
    );
    assert.equal(org.total, 4);
    const c = await store.shares.list(query({ accountId: C }, { tags: [{ key: 'env', value: 'prod' }] }));
    assert.deepEqual(
      c.rows.map((s) => s.id),
      [id],
    );
  });
});
