import type Database from 'better-sqlite3';
import type { StateRows, StateStore } from '../../emulator/state/store.js';
import { tenancyWrite } from '../../platform/tenancy/generation.js';
import { clearOrganizationSql, canonicalTimestamp, derivedColumns } from '../state-tables.js';
import { snapshotColumns, type ColumnType, type Table } from '../../lib/table.js';
import { STATE_TABLES, UNRESTORED_TABLES } from '../tables.js';
import { prepared } from './database.js';

type Db = Database.Database;
type Values = Record<string, unknown>;

/** The organization's shares, for the deletes below (`?` is the organization id). */
const CLEAR_ORGANIZATION = clearOrganizationSql('?');
const DELETE_ORG_SHARES = 'DELETE FROM shares WHERE organization_id = ?';
/** Numbering restarts: the organization's next share is its first. */
const RESET_SHARE_COUNT = 'UPDATE organizations SET share_count = 0 WHERE id = ?';

const CLEAR_ALL = [...UNRESTORED_TABLES, ...STATE_TABLES.map((t) => t.name).reverse()].map(
  (name) => `DELETE FROM ${name}`,
);

function selectSql(table: Table): string {
  const order = table.writeOrder ? [table.key[0], 'rowid'] : table.key;
  return `SELECT ${snapshotColumns(table)
    .map((c) => c.name)
    .join(', ')} FROM ${table.name} ORDER BY ${order.join(', ')}`;
}

/** SQLite keeps booleans as 0/1 and JSON as text. */
function fromSqlite(type: ColumnType, value: unknown): unknown {
  if (value === null) return null;
  if (type === 'timestamp') return canonicalTimestamp(value as string);
  if (type === 'boolean') return value === 1;
  if (type === 'json') return JSON.parse(value as string) as unknown;
  return value;
}

function toSqlite(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'boolean') return value ? 1 : 0;
  if (type === 'json') return JSON.stringify(value);
  return value;
}

export class SqliteStateStore implements StateStore {
  constructor(private readonly db: Db) {}

  /** Tenancy goes too: cached credentials are dropped (tenancyWrite). */
  async clear(): Promise<void> {
    await tenancyWrite(() => this.db.transaction(() => this.deleteAll()).immediate());
  }

  async clearOrganization(organizationId: string): Promise<{ shares: number } | undefined> {
    const { db } = this;
    return db
      .transaction(() => {
        if (prepared(db, RESET_SHARE_COUNT).run(organizationId).changes === 0) return undefined;
        for (const sql of CLEAR_ORGANIZATION) prepared(db, sql).run(organizationId);
        return { shares: prepared(db, DELETE_ORG_SHARES).run(organizationId).changes };
      })
      .immediate();
  }

  async exportRows(only?: ReadonlySet<keyof StateRows>): Promise<StateRows> {
    const { db } = this;
    // One read transaction: every table from the same snapshot.
    return db.transaction(() => {
      const out: Record<string, Values[]> = {};
      for (const table of STATE_TABLES) {
        if (only && !only.has(table.name as keyof StateRows)) {
          out[table.name] = [];
          continue;
        }
        const rows = prepared(db, selectSql(table)).all() as Values[];
        for (const row of rows)
          for (const { name, type } of snapshotColumns(table)) row[name] = fromSqlite(type, row[name]);
        out[table.name] = rows;
      }
      return out as unknown as StateRows;
    })();
  }

  async importRows(rows: StateRows): Promise<void> {
    const derived = derivedColumns(rows);
    // The stored tenancy is replaced: cached credentials are dropped.
    await tenancyWrite(() => this.importTables(rows, derived));
  }

  private importTables(rows: StateRows, derived: ReturnType<typeof derivedColumns>): void {
    const { db } = this;
    db.transaction(() => {
      this.deleteAll();
      for (const table of STATE_TABLES) {
        const extra = derived[table.name] ?? [];
        const own = snapshotColumns(table);
        const names = [...own.map((c) => c.name), ...extra.map((d) => d.name)];
        const insert = prepared(
          db,
          `INSERT INTO ${table.name} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
        );
        // The share_visibility triggers fill the derived table as shares, tags and recipients go in.
        for (const row of (rows as unknown as Record<string, Values[]>)[table.name] ?? []) {
          insert.run(
            ...snapshotColumns(table).map(({ name: c, type }) => toSqlite(type, row[c])),
            ...extra.map((d) => toSqlite(d.type, d.value(row))),
          );
        }
      }
    }).immediate();
  }

  private deleteAll(): void {
    for (const sql of CLEAR_ALL) prepared(this.db, sql).run();
  }
}
