import { ValidationError } from '../../http/errors.js';
import { formatMicros } from '../../lib/clock.js';
import { AUDIT_PRODUCT, type AuditEntry } from '../../platform/audit/entry.js';
import {
  V2_FILTERS,
  type AuditLogV1,
  type AuditLogV2,
  type ListAuditLogsV1Query,
  type ListAuditLogsV2Query,
  type V2FilterName,
} from './schemas.js';
import type { AuditFilter, AuditPosition, AuditRow, AuditStore } from './store.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** A query's date or RFC 3339 time as the store's timestamp; `pointer` names the parameter. */
export function parseTime(value: string, pointer: string): string {
  if (!DATE.test(value) && !RFC3339.test(value)) {
    throw new ValidationError(
      `${pointer.split('/').at(-1) ?? 'time'} must be a date (2019-04-30) or an RFC 3339 timestamp`,
      pointer,
    );
  }
  const ms = Date.parse(DATE.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) throw new ValidationError(`${value} is not a valid time`, pointer);
  // Sub-millisecond digits of an RFC 3339 time are kept, so a bound taken from an entry's own time holds.
  const micros = /\.\d{3}(\d{1,3})/.exec(value)?.[1]?.padEnd(3, '0') ?? '000';
  return formatMicros(ms * 1000 + Number(micros));
}

/** Opaque to clients: the place of the last entry of a page. */
function encodeCursor(p: AuditPosition): string {
  return Buffer.from(JSON.stringify([p.time, p.seq])).toString('base64url');
}

function decodeCursor(cursor: string): AuditPosition {
  try {
    const [time, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof time === 'string' && typeof seq === 'number' && Number.isSafeInteger(seq)) {
      return { time: parseTime(time, '/query/cursor'), seq };
    }
  } catch {
    // Answered below, as any other cursor this server did not hand out.
  }
  throw new ValidationError('cursor is not one this server returned', '/query/cursor');
}

const text = (v: unknown): string | undefined =>
  v === null || v === undefined ? undefined : JSON.stringify(v);
const opt = (v: string | null): string | undefined => v ?? undefined;

const V1_ACTOR_TYPES = {
  user: 'user',
  account: 'user',
  system: 'Cloudflare',
  cloudflare_admin: 'admin',
} as const;

export function toV1(row: AuditRow): AuditLogV1 {
  return {
    id: row.id,
    action: { type: row.action_type, result: row.action_result === 'success' },
    actor: {
      id: opt(row.actor_id),
      email: opt(row.actor_email),
      ip: opt(row.actor_ip),
      // Version 1 knows users, admins and Cloudflare itself; an account token acts for a user there.
      type: V1_ACTOR_TYPES[row.actor_type],
    },
    interface: row.interface,
    metadata: row.metadata ?? {},
    newValue: text(row.new_value),
    oldValue: text(row.old_value),
    owner: { id: row.account_id },
    resource: { id: row.resource_id, type: row.resource_type },
    when: row.time,
  };
}

export function toV2(row: AuditRow): AuditLogV2 {
  return {
    id: row.id,
    account: { id: row.account_id, name: opt(row.account_name) },
    action: {
      description: row.action_description,
      result: row.action_result,
      time: row.time,
      type: row.action_type,
    },
    actor: {
      id: opt(row.actor_id),
      context: opt(row.actor_context) as AuditLogV2['actor']['context'],
      email: opt(row.actor_email),
      ip_address: opt(row.actor_ip),
      token_id: opt(row.actor_token_id),
      token_name: opt(row.actor_token_name),
      type: row.actor_type,
    },
    raw: {
      cf_ray_id: opt(row.raw_ray_id),
      method: opt(row.raw_method),
      status_code: row.raw_status_code ?? undefined,
      uri: opt(row.raw_uri),
      user_agent: opt(row.raw_user_agent),
    },
    resource: {
      id: row.resource_id,
      product: AUDIT_PRODUCT,
      request: row.request ?? {},
      response: row.new_value ?? {},
      scope: { type: 'accounts', id: row.account_id },
      type: row.resource_type,
    },
  };
}

/** The product categories version 2 knows; only this one holds rshare's entries. */
const PRODUCT_CATEGORIES = new Set(['resource_sharing']);

/** Reads an account's audit log in either of Cloudflare's shapes. Access is the route's to check. */
export class AuditService {
  constructor(private readonly store: AuditStore) {}

  async listV1(
    accountId: string,
    q: ListAuditLogsV1Query,
  ): Promise<{ items: AuditLogV1[]; page: number; perPage: number }> {
    const page = q.page ?? 1;
    const perPage = q.per_page ?? 100;
    const filters: AuditFilter[] = [];
    const one = (column: AuditFilter['column'], value: string | undefined) => {
      if (value !== undefined) filters.push({ column, values: [value], not: false });
    };
    one('id', q.id);
    one('action_type', q['action.type']);
    one('actor_email', q['actor.email']);
    one('actor_ip', q['actor.ip']);
    const since = q.since === undefined ? undefined : parseTime(q.since, '/query/since');
    const before = q.before === undefined ? undefined : parseTime(q.before, '/query/before');
    // No entry has a zone.
    if (q['zone.name'] !== undefined) return { items: [], page, perPage };
    // rshare's entries are all account-level: hiding user-level logs hides none.
    const rows = await this.store.list({
      accountId,
      since,
      before,
      direction: q.direction ?? 'desc',
      limit: perPage,
      offset: (page - 1) * perPage,
      filters,
    });
    return { items: rows.map(toV1), page, perPage };
  }

  async listV2(
    accountId: string,
    q: ListAuditLogsV2Query,
  ): Promise<{ items: AuditLogV2[]; cursor: string | undefined }> {
    const since = parseTime(q.since, '/query/since');
    const before = parseTime(q.before, '/query/before');
    const limit = q.limit ?? 100;
    const filters: AuditFilter[] = [];
    for (const [name, column] of Object.entries(V2_FILTERS) as [V2FilterName, AuditFilter['column']][]) {
      for (const not of [false, true]) {
        const values = q[not ? `${name}.not` : name];
        if (Array.isArray(values) && values.length > 0) filters.push({ column, values, not });
      }
    }
    const categories = q.product_category ?? [];
    const unknown = categories.find((c) => !PRODUCT_CATEGORIES.has(c.toLowerCase()));
    if (unknown !== undefined) {
      throw new ValidationError(`Unknown product category ${unknown}`, '/query/product_category');
    }
    // No entry has a zone: a positive zone filter matches nothing; a `.not` one excludes nothing.
    if ((q.zone_id as string[] | undefined)?.length || (q.zone_name as string[] | undefined)?.length) {
      return { items: [], cursor: undefined };
    }
    const rows = await this.store.list({
      accountId,
      since,
      before,
      direction: q.direction ?? 'desc',
      limit: limit + 1,
      after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      filters,
    });
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toV2),
      cursor: more && last ? encodeCursor({ time: last.time, seq: last.seq }) : undefined,
    };
  }

  /** Writes entries that stand alone (reads), outside any change. */
  record(entries: AuditEntry[]): Promise<void> {
    return this.store.record(entries);
  }
}
