import type pg from 'pg';
import type { StateRows, StateStore } from '../../emulator/state/store.js';
import { tenancyWrite } from '../../platform/tenancy/generation.js';
import { clearOrganizationSql, derivedColumns } from '../state-tables.js';
import { snapshotColumns, type ColumnType, type Table } from '../../lib/table.js';
import { STATE_TABLES, UNRESTORED_TABLES } from '../tables.js';
import { named, transaction } from './database.js';

type Values = Record<string, unknown>;

const CLEAR_ORGANIZATION = clearOrganizationSql('$1');
const DELETE_ORG_SHARES = 'DELETE FROM shares WHERE organization_id = $1';
/**
 * Numbering restarts at 1. Run first: it takes the organization row's lock (as share creates do), so no
 * share of the organization is created while it is cleared, and it tells whether the organization exists.
 */
const RESET_SHARE_COUNT = 'UPDATE organizations SET share_count = 0 WHERE id = $1';

/** One statement for every table: no row triggers fire, and foreign keys among them are no obstacle. */
const TRUNCATE_ALL = `TRUNCATE ${[...STATE_TABLES.map((t) => t.name), ...UNRESTORED_TABLES].join(', ')}`;

const ARRAY_TYPE: Record<ColumnType, string> = {
  text: 'text[]',
  integer: 'integer[]',
  bigint: 'bigint[]',
  boolean: 'boolean[]',
  json: 'jsonb[]',
  timestamp: 'timestamptz[]',
  expiry: 'timestamptz[]',
};

function selectSql(table: Table): string {
  const columns = snapshotColumns(table).map(({ name: c, type }) =>
    // Expiries are whole seconds, as the tenancy store returns them: 2030-01-01T00:00:00Z.
    type === 'expiry' ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ${c}` : c,
  );
  // Ids are lowercase hex and other keys compare in the service, so the collation does not matter here.
  const order = table.writeOrder ? [table.key[0], 'ctid'] : table.key;
  return `SELECT ${columns.join(', ')} FROM ${table.name} ORDER BY ${order.join(', ')}`;
}

/** One statement per table whatever the row count: a column per array parameter. */
function insertSql(table: string, columns: readonly { name: string; type: ColumnType }[]): string {
  const names = columns.map((c) => c.name).join(', ');
  const arrays = columns.map(({ type }, i) => `$${i + 1}::${ARRAY_TYPE[type]}`).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${arrays})`;
}

function toPg(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return type === 'json' ? JSON.stringify(value) : value;
}

export class PgStateStore implements StateStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Tenancy goes too: cached credentials are dropped (tenancyWrite). */
  async clear(): Promise<void> {
    await tenancyWrite(() => this.pool.query(TRUNCATE_ALL));
  }

  async clearOrganization(organizationId: string): Promise<{ shares: number } | undefined> {
    return transaction(this.pool, async (c) => {
      if ((await c.query(named(RESET_SHARE_COUNT, [organizationId]))).rowCount === 0) return undefined;
      for (const sql of CLEAR_ORGANIZATION) await c.query(named(sql, [organizationId]));
      return { shares: (await c.query(named(DELETE_ORG_SHARES, [organizationId]))).rowCount ?? 0 };
    });
  }

  async exportRows(only?: ReadonlySet<keyof StateRows>): Promise<StateRows> {
    return transaction(this.pool, async (c) => {
      // Every table from the same snapshot.
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const out: Record<string, Values[]> = {};
      for (const table of STATE_TABLES) {
        out[table.name] =
          only && !only.has(table.name as keyof StateRows)
            ? []
            : (await c.query<Values>(named(selectSql(table)))).rows;
      }
      return out as unknown as StateRows;
    });
  }

  async importRows(rows: StateRows): Promise<void> {
    const derived = derivedColumns(rows);
    // The stored tenancy is replaced: cached credentials are dropped.
    await tenancyWrite(() => this.importTables(rows, derived));
  }

  private async importTables(rows: StateRows, derived: ReturnType<typeof derivedColumns>): Promise<void> {
    await transaction(this.pool, async (c) => {
      await c.query(TRUNCATE_ALL);
      for (const table of STATE_TABLES) {
        const list = (rows as unknown as Record<string, Values[]>)[table.name] ?? [];
        if (list.length === 0) continue;
        const extra = derived[table.name] ?? [];
        const own = snapshotColumns(table);
        const columns = [...own, ...extra.map((d) => ({ name: d.name, type: d.type }))];
        const values = [
          ...own.map(({ name, type }) => list.map((r) => toPg(type, r[name]))),
          ...extra.map((d) => list.map((r) => toPg(d.type, d.value(r)))),
        ];
        // The share_visibility triggers fill the derived table as shares, tags and recipients go in.
        await c.query(named(insertSql(table.name, columns), values));
      }
    });
  }
}
