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
  HELD,
  BULK,
} from '../../emulator/seed/store.js';

type Db = Database.Database;
type Ids = (index: number) => string;

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
  visible: `INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
    VALUES (?, ?, ?, ?, ?, 'active', 'account', ?)`,
  inventory: `INSERT INTO inventory (account_id, share_resource_id, share_id, resource_id, resource_type,
    resource_account_id, meta, resource_version, created, modified)
    VALUES (?, ?, ?, ?, 'custom-ruleset', ?, ?, 1, ?, ?)`,
};

function tryPragma(db: Db, pragma: string): boolean {
  try {
    db.pragma(pragma);
    return true;
  } catch {
    return false;
  }
}

export class SqliteSeedWriter implements SeedWriter {
  constructor(private readonly db: Db) {}

  async write(plan: SeedPlan): Promise<void> {
    const { db } = this;
    // Durability of a half-written seed is worthless (the transaction is all or nothing, and a crash means
    // seeding again), so skip the syncs; a large cache keeps the growing indexes in memory.
    const synchronous = db.pragma('synchronous', { simple: true }) as number;
    const cacheSize = db.pragma('cache_size', { simple: true }) as number;
    const journal = db.pragma('journal_mode', { simple: true }) as string;
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576');
    // A rollback journal writes each new page once, into the database; WAL writes it twice (log, then
    // checkpoint). Leaving WAL needs the file to ourselves: with another connection open, stay in WAL.
    const leftWal = journal === 'wal' && tryPragma(db, 'journal_mode = DELETE');
    try {
      db.transaction(() => {
        const held = HELD.filter((t) => db.prepare(`SELECT 1 FROM ${t} LIMIT 1`).get() !== undefined);
        if (held.length > 0) throw new StoreNotEmptyError(held);
        this.tenancy(plan);
        this.withoutTriggers(() => this.withoutSecondaryIndexes(() => this.shares(plan)));
      }).immediate();
    } finally {
      if (leftWal) db.pragma('journal_mode = WAL');
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

  /**
   * The share_visibility triggers would cost a subquery per tag and recipient row; the seed writes those
   * rows itself (exactly what the triggers would have written) and puts the triggers back, same transaction.
   */
  private withoutTriggers(fill: () => void): void {
    const triggers = this.db
      .prepare<string[], { name: string; sql: string }>(
        `SELECT name, sql FROM sqlite_master WHERE type = 'trigger'
         AND tbl_name IN (${BULK.map(() => '?').join(', ')}) ORDER BY rowid`,
      )
      .all(...BULK);
    for (const t of triggers) this.db.exec(`DROP TRIGGER "${t.name}"`);
    fill();
    for (const t of triggers) this.db.exec(t.sql);
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
      const name = `share ${number}`;
      s.share.run(id, owner, org, name, created, created, i + 1);
      s.tag.run(id, envTag(i));
      // As json_group_object writes the one tag (plain ASCII: no escapes).
      const tags = `{"env":"${envTag(i)}"}`;
      s.visible.run(owner, created, id, 'sent', name, tags);
      s.visible.run(recipient, created, id, 'received', name, tags);
      s.recipient.run(recipientId, id, recipient, recipientCreated, at(STAMP.associated));
      s.resource.run(resourceId, id, rulesetId, owner, meta, resourceCreated, resourceCreated);
      s.delivery.run(recipientId, resourceId, at(STAMP.recorded));
      s.inventory.run(recipient, resourceId, id, rulesetId, owner, meta, delivered, delivered);
    }
  }
}
