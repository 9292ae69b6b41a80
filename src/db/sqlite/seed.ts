import type Database from 'better-sqlite3';
import { formatMicros } from '../../lib/clock.js';
import {
  envTag,
  numberWidth,
  ownerOf,
  recipientOf,
  rulesetMeta,
  seedIds,
  shareNumber,
  STAMP,
  StoreNotEmptyError,
  type SeedPlan,
  type SeedWriter,
} from '../../seed/store.js';

type Db = Database.Database;
type Ids = (index: number) => string;

const HELD = ['organizations', 'accounts', 'users', 'tokens', 'shares'] as const;
/** The tables that get a row per share. */
const BULK = [
  'shares',
  'share_tags',
  'share_recipients',
  'share_resources',
  'recipient_resources',
  'inventory',
];

const SQL = {
  organization: `INSERT INTO organizations (id, name, created, modified, share_count) VALUES (?, ?, ?, ?, ?)`,
  account: `INSERT INTO accounts (id, name, organization_id, entitlements, created, modified)
    VALUES (?, ?, ?, NULL, ?, ?)`,
  token: `INSERT INTO tokens (id, name, secret_hash, can_edit, status, expires_on, created, modified)
    VALUES (?, ?, ?, 1, 'active', NULL, ?, ?)`,
  tokenAccount: 'INSERT INTO token_accounts (token_id, account_id) VALUES (?, ?)',
  tokenOrganization: 'INSERT INTO token_organizations (token_id, organization_id) VALUES (?, ?)',
  share: `INSERT INTO shares (id, account_id, organization_id, name, target_type, status, created, modified, org_seq)
    VALUES (?, ?, ?, ?, 'account', 'active', ?, ?, ?)`,
  tag: `INSERT INTO share_tags (share_id, key, value) VALUES (?, 'env', ?)`,
  recipient: `INSERT INTO share_recipients (id, share_id, account_id, desired_status, status, created, modified)
    VALUES (?, ?, ?, 'associated', 'associated', ?, ?)`,
  resource: `INSERT INTO share_resources
    (id, share_id, resource_id, resource_type, resource_account_id, meta, status, resource_version, created, modified)
    VALUES (?, ?, ?, 'custom-ruleset', ?, ?, 'active', 1, ?, ?)`,
  delivery: `INSERT INTO recipient_resources
    (recipient_id, share_resource_id, applied_version, error, terminal, error_version, modified)
    VALUES (?, ?, 1, '', 0, NULL, ?)`,
  inventory: `INSERT INTO inventory (account_id, share_resource_id, share_id, resource_id, resource_type,
    resource_account_id, meta, resource_version, created, modified)
    VALUES (?, ?, ?, ?, 'custom-ruleset', ?, ?, 1, ?, ?)`,
};

export class SqliteSeedWriter implements SeedWriter {
  constructor(private readonly db: Db) {}

  async write(plan: SeedPlan): Promise<void> {
    const { db } = this;
    // Durability of a half-written seed is worthless (the transaction is all or nothing, and a crash means
    // seeding again), so skip the syncs; a large cache keeps the random-keyed indexes in memory.
    const synchronous = db.pragma('synchronous', { simple: true }) as number;
    const cacheSize = db.pragma('cache_size', { simple: true }) as number;
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576');
    try {
      db.transaction(() => {
        const held = HELD.filter((t) => db.prepare(`SELECT 1 FROM ${t} LIMIT 1`).get() !== undefined);
        if (held.length > 0) throw new StoreNotEmptyError(held);
        this.tenancy(plan);
        this.withoutSecondaryIndexes(() => this.shares(plan));
      }).immediate();
    } finally {
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma(`cache_size = ${cacheSize}`);
    }
  }

  /**
   * Building an index once from all its rows (a sort) is several times faster than growing it one random
   * key at a time. The migrations' own CREATE INDEX texts are replayed, in the same transaction, so the
   * schema ends exactly as it was; the primary keys and UNIQUE constraints (autoindexes) stay throughout.
   */
  private withoutSecondaryIndexes(fill: () => void): void {
    const indexes = this.db
      .prepare<string[], { name: string; sql: string }>(
        `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
         AND tbl_name IN (${BULK.map(() => '?').join(', ')}) ORDER BY rowid`,
      )
      .all(...BULK);
    for (const i of indexes) this.db.exec(`DROP INDEX "${i.name}"`);
    fill();
    for (const i of indexes) this.db.exec(i.sql);
  }

  private tenancy(plan: SeedPlan): void {
    const { db } = this;
    const org = plan.organization;
    db.prepare(SQL.organization).run(org.id, org.name, org.created, org.created, plan.shares);
    const account = db.prepare(SQL.account);
    for (const a of plan.accounts) account.run(a.id, a.name, org.id, a.created, a.created);
    const t = plan.token;
    db.prepare(SQL.token).run(t.id, t.name, t.secret_hash, t.created, t.created);
    const link = db.prepare(SQL.tokenAccount);
    for (const a of plan.accounts) link.run(t.id, a.id);
    db.prepare(SQL.tokenOrganization).run(t.id, org.id);
  }

  private shares(plan: SeedPlan): void {
    const s = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as Record<
      keyof typeof SQL,
      Database.Statement
    >;
    const n = plan.accounts.length;
    const width = numberWidth(plan.shares);
    const org = plan.organization.id;
    const [shareId, recipientIdOf, resourceIdOf, rulesetIdOf] = (
      ['share', 'recipient', 'resource', 'ruleset'] as const
    ).map((kind) => seedIds(plan.nonce, kind)) as [Ids, Ids, Ids, Ids];
    for (let i = 0; i < plan.shares; i++) {
      const base = (plan.firstShareMs + i) * 1000;
      const at = (offset: number) => formatMicros(base + offset);
      const created = at(0);
      const id = shareId(i);
      const recipientId = recipientIdOf(i);
      const resourceId = resourceIdOf(i);
      const rulesetId = rulesetIdOf(i);
      const owner = (plan.accounts[ownerOf(i, n)] as { id: string }).id;
      const recipient = (plan.accounts[recipientOf(i, n)] as { id: string }).id;
      const number = shareNumber(i, width);
      const meta = JSON.stringify(rulesetMeta(number));
      const [recipientCreated, resourceCreated, delivered] = [
        at(STAMP.recipient),
        at(STAMP.resource),
        at(STAMP.delivered),
      ];
      s.share.run(id, owner, org, `share ${number}`, created, created, i + 1);
      s.tag.run(id, envTag(i));
      s.recipient.run(recipientId, id, recipient, recipientCreated, at(STAMP.associated));
      s.resource.run(resourceId, id, rulesetId, owner, meta, resourceCreated, resourceCreated);
      s.delivery.run(recipientId, resourceId, at(STAMP.recorded));
      s.inventory.run(recipient, resourceId, id, rulesetId, owner, meta, delivered, delivered);
    }
  }
}
