import type { StateRows } from '../emulator/state/store.js';
import { AUDIT_COLUMNS } from './audit-rows.js';
import { SHARE_TAGS_TABLE, SHARES_TABLE } from '../cloudflare/shares/table.js';
import { stateTable, type ColumnType, type Table } from '../lib/table.js';

/*
 * Every table of the store, declared once: the state snapshot, its restore and the SQLite → PostgreSQL copy
 * all read this list (./state-tables.ts, ./copy.ts). It lives here, beside the stores that move whole
 * tables, because it names every capability's tables; a capability may declare its own (shares do, in its
 * folder) and this list takes them in. Keep it in step with the migrations: the state test checks it
 * against the migrated schema of both stores, and the copy refuses a source column it does not know.
 */

type Row<K extends keyof StateRows> = StateRows[K][number];

/** Audit columns not stored as text (their JSON values are text on both stores). */
const AUDIT_TYPES: Record<string, ColumnType> = { time: 'timestamp', raw_status_code: 'integer' };

const stamps = { created: 'timestamp', modified: 'timestamp' } as const;

/** A table no whole-table move writes (its columns are never listed). */
const unmoved = (name: string, role: 'derived' | 'transient'): Table => ({
  name,
  role,
  columns: [],
  key: [],
  writeOrder: false,
});

/** Parents before children, so foreign keys hold at each insert; children first when deleting. */
export const TABLES: readonly Table[] = [
  stateTable<Row<'organizations'>>('organizations', { id: 'text', name: 'text', ...stamps }, ['id'], {
    // The number of shares ever created in it: recomputed on restore from the shares restored.
    others: { share_count: ['bigint', 'derived'] },
  }),
  stateTable<Row<'accounts'>>(
    'accounts',
    { id: 'text', name: 'text', organization_id: 'text', entitlements: 'json', ...stamps },
    ['id'],
  ),
  stateTable<Row<'organization_departures'>>(
    'organization_departures',
    { organization_id: 'text', account_id: 'text' },
    ['organization_id', 'account_id'],
  ),
  stateTable<Row<'users'>>('users', { id: 'text', email: 'text', api_key_hash: 'text', ...stamps }, ['id']),
  stateTable<Row<'user_accounts'>>(
    'user_accounts',
    { user_id: 'text', account_id: 'text' },
    ['user_id', 'account_id'],
    { writeOrder: true },
  ),
  stateTable<Row<'user_organizations'>>(
    'user_organizations',
    { user_id: 'text', organization_id: 'text' },
    ['user_id', 'organization_id'],
    { writeOrder: true },
  ),
  stateTable<Row<'tokens'>>(
    'tokens',
    {
      id: 'text',
      name: 'text',
      secret_hash: 'text',
      can_edit: 'boolean',
      status: 'text',
      expires_on: 'expiry',
      ...stamps,
    },
    ['id'],
  ),
  stateTable<Row<'token_accounts'>>(
    'token_accounts',
    { token_id: 'text', account_id: 'text' },
    ['token_id', 'account_id'],
    { writeOrder: true },
  ),
  stateTable<Row<'token_organizations'>>(
    'token_organizations',
    { token_id: 'text', organization_id: 'text' },
    ['token_id', 'organization_id'],
    { writeOrder: true },
  ),
  SHARES_TABLE,
  SHARE_TAGS_TABLE,
  stateTable<Row<'share_recipients'>>(
    'share_recipients',
    { id: 'text', share_id: 'text', account_id: 'text', desired_status: 'text', status: 'text', ...stamps },
    ['id'],
  ),
  stateTable<Row<'share_resources'>>(
    'share_resources',
    {
      id: 'text',
      share_id: 'text',
      resource_id: 'text',
      resource_type: 'text',
      resource_account_id: 'text',
      meta: 'json',
      status: 'text',
      resource_version: 'integer',
      ...stamps,
    },
    ['id'],
  ),
  stateTable<Row<'share_excluded_recipients'>>(
    'share_excluded_recipients',
    { id: 'text', share_id: 'text', account_id: 'text', ...stamps },
    ['id'],
  ),
  stateTable<Row<'recipient_resources'>>(
    'recipient_resources',
    {
      recipient_id: 'text',
      share_resource_id: 'text',
      applied_version: 'integer',
      error: 'text',
      terminal: 'boolean',
      error_version: 'integer',
      modified: 'timestamp',
    },
    ['recipient_id', 'share_resource_id'],
  ),
  stateTable<Row<'reconcile_work'>>(
    'reconcile_work',
    {
      kind: 'text',
      id: 'text',
      generation: 'integer',
      due_at: 'bigint',
      attempts: 'integer',
      last_error: 'text',
    },
    ['kind', 'id'],
    // Leases belong to the workers of the store the rows came from: the work is due for whichever comes first.
    { others: { lease_owner: ['text', 'lease'], lease_expires: ['bigint', 'lease'] } },
  ),
  stateTable<Row<'inventory'>>(
    'inventory',
    {
      account_id: 'text',
      share_resource_id: 'text',
      share_id: 'text',
      resource_id: 'text',
      resource_type: 'text',
      resource_account_id: 'text',
      meta: 'json',
      resource_version: 'integer',
      ...stamps,
    },
    ['account_id', 'share_resource_id'],
  ),
  {
    // History: copied in the source's order (`seq` is left to the target's identity), never in a snapshot.
    name: 'audit_logs',
    role: 'history',
    columns: [
      { name: 'seq', type: 'bigint', role: 'generated' },
      ...AUDIT_COLUMNS.map((name) => ({ name, type: AUDIT_TYPES[name] ?? 'text', role: 'state' as const })),
    ],
    key: ['seq'],
    writeOrder: false,
  },
  // Kept by triggers from shares, tags and recipients as they are written.
  unmoved('share_visibility', 'derived'),
  // Request counters (`--rate-limit`): a reset or a copy starts every caller's window afresh.
  unmoved('rate_limits', 'transient'),
];

/** The tables a state snapshot holds, in `TABLES` order. */
export const STATE_TABLES = TABLES.filter((t) => t.role === 'state');

/**
 * The tables emptied with the state but never written by a restore: derived ones first, so the triggers
 * that fire as the state tables are emptied find no rows left.
 */
export const UNRESTORED_TABLES = [
  ...TABLES.filter((t) => t.role === 'derived'),
  ...TABLES.filter((t) => t.role !== 'derived' && t.role !== 'state'),
].map((t) => t.name);
