/**
 * How the store declares a table once, for everything that moves whole tables (the state snapshot and its
 * restore, the SQLite → PostgreSQL copy): each store turns a column type into its own representation
 * (SQLite keeps booleans as 0/1 and JSON as text; PostgreSQL has boolean, jsonb and timestamptz).
 */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'boolean' | 'json' | 'timestamp' | 'expiry';

/**
 * What a column is to a whole-table move:
 * - `state` (default): in the snapshot and copied;
 * - `derived`: recomputed from the snapshot on restore (share numbering), copied as is;
 * - `lease`: a worker's lease, meaningless elsewhere: not in the snapshot, copied as null;
 * - `generated`: an identity the target assigns itself: neither.
 */
export type ColumnRole = 'state' | 'derived' | 'lease' | 'generated';

export interface Column {
  name: string;
  type: ColumnType;
  role: ColumnRole;
}

/**
 * What a table is to a whole-table move:
 * - `state`: in the snapshot, copied;
 * - `history`: copied, not in the snapshot (audit logs describe the state a snapshot replaces), emptied with it;
 * - `derived`: kept by triggers from the state tables: neither copied (compared instead) nor in the snapshot;
 * - `transient`: request counters, neither copied nor in the snapshot: they start afresh.
 */
export type TableRole = 'state' | 'history' | 'derived' | 'transient';

export interface Table {
  name: string;
  role: TableRole;
  /** In table order: the insert and select lists (empty for derived and transient tables: never moved). */
  columns: readonly Column[];
  /** The primary key: export and copy order. */
  key: readonly string[];
  /**
   * Scope links have no position column and are listed in the order they were written (rowid on SQLite,
   * ctid on PostgreSQL): a snapshot lists them in that order within their owner (the key's first column).
   */
  writeOrder: boolean;
}

type Types<R> = { [C in keyof R]-?: ColumnType };

/**
 * A state table whose snapshot columns are exactly the fields of its row type `R` (the compiler keeps the
 * two in step), plus the columns a snapshot leaves out, by role.
 */
export function stateTable<R>(
  name: string,
  columns: Types<R>,
  key: readonly (keyof R & string)[],
  options: { writeOrder?: boolean; others?: Record<string, [ColumnType, Exclude<ColumnRole, 'state'>]> } = {},
): Table {
  return {
    name,
    role: 'state',
    columns: [
      ...Object.entries(columns).map(([n, type]) => ({
        name: n,
        type: type as ColumnType,
        role: 'state' as const,
      })),
      ...Object.entries(options.others ?? {}).map(([n, [type, role]]) => ({ name: n, type, role })),
    ],
    key,
    writeOrder: options.writeOrder ?? false,
  };
}

/** The columns a snapshot holds. */
export const snapshotColumns = (t: Table): Column[] => t.columns.filter((c) => c.role === 'state');
