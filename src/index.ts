/**
 * rshare as a library, for JavaScript test suites: `startRshare()` starts a server in this process (an
 * in-memory store on a free port by default) and hands back its URL and the admin controls.
 */
import pino from 'pino';
// Loaded with the package rather than at the first start (bootstraps are checked with it).
import '@sinclair/typebox/compiler';
import type { ResetResult } from './emulator/admin/schemas.js';
import { ADMIN_PREFIX } from './http/paths.js';
import type { PgPooler } from './adapters/pooler.js';
import type { ServerTimeouts } from './http/limits.js';
import type { ClockState } from './lib/clock.js';
import { parseRateLimit } from './cloudflare/rate-limit/options.js';
import { newAdminToken, REDACT, startServer, type ReconcileMode, type Role } from './server.js';
import type { BootstrapFile } from './platform/tenancy/bootstrap.js';
import type { ResourceTypesFile } from './platform/resource-types/file.js';
import type { DemoSeed } from './platform/tenancy/demo.js';
import type { StateDocument } from './emulator/state/schemas.js';
import type { ReconcileResult, WaitResult } from './emulator/control/schemas.js';
import type { FaultRule, FaultRuleBody as FaultRuleInput } from './emulator/faults/schemas.js';
import type { JournalEntry, JournalQuery as JournalFilter } from './emulator/journal/schemas.js';

export type { ResetResult, ClockState, StateDocument, ReconcileResult, WaitResult, BootstrapFile };
export type { FaultRule, FaultRuleInput, JournalEntry, JournalFilter, ResourceTypesFile };

export interface StartOptions {
  /** SQLite file, `:memory:` (default: nothing on disk) or a postgres:// URL. */
  database?: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Tenancy to create: a bootstrap document, or the path of a bootstrap JSON file. */
  bootstrap?: BootstrapFile | string;
  /** `manual`: statuses move only when `reconcile()` is called (default `auto`). */
  reconcile?: ReconcileMode;
  /** In `auto`, work becomes due this long after the change that caused it. */
  reconcileDelayMs?: number;
  /** Repeatable ids: two runs with the same seed issue the same ids. */
  idSeed?: number;
  /** Admin token (default: a fresh random one, returned as `adminToken`). */
  adminToken?: string;
  /** Requests kept in the journal (default 1,000). */
  journalSize?: number;
  /** Bytes the journal keeps in all, counted as its entries' JSON (default 16 MiB). */
  journalBytes?: number;
  /** Bytes of one journaled body's JSON; a longer body is kept cut there, marked truncated (default 64 KiB). */
  journalBodyBytes?: number;
  /** Cloudflare's rate limit: `off` (default), `cloudflare` (1200/300s) or `<requests>/<seconds>s`. */
  rateLimit?: string;
  /** How long a successful credential check is reused, in ms (default 500; 0: off; at most 1000). */
  credentialCacheMs?: number;
  /** HTTP server timeouts (default: headers 10 s, request 30 s, keep-alive 5 s; see docs/configuration.md). */
  timeouts?: Partial<ServerTimeouts>;
  /** Delivery drivers file (see docs/reconciler.md); default: the built-in inventory. */
  drivers?: string;
  /** Resource types declared by this platform: the document, or the path of a resource-types JSON file. */
  resourceTypes?: ResourceTypesFile | string;
  /** Seed the demo tenancy (as `rshare serve --demo`); its credentials are in `demo`. */
  demo?: boolean;
  /** pino log level (default `silent`). */
  logLevel?: string;
  role?: Role;
  poolSize?: number;
  /** PostgreSQL behind a pooler: `transaction` or `session` (PgBouncer's pool modes); default `none`. */
  pgPooler?: PgPooler;
  leaseMs?: number;
  pollMs?: number;
}

/** The demo tenancy's ids and secrets (`demo: true` on an empty store). */
export type DemoCredentials = DemoSeed;

/** An admin call that rshare refused: the status and the Cloudflare-style errors it answered. */
export class RshareAdminError extends Error {
  constructor(
    readonly status: number,
    readonly errors: { code: number; message: string; source?: { pointer: string } }[],
  ) {
    super(
      errors.map((e) => `${e.message}${e.source ? ` (${e.source.pointer})` : ''}`).join('; ') ||
        `HTTP ${status}`,
    );
    this.name = 'RshareAdminError';
  }
}

export interface Rshare {
  /** The server's origin, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The API root for `new Cloudflare({ baseURL })`: `<url>/client/v4`. */
  baseURL: string;
  adminToken: string;
  /** The demo tenancy, when started with `demo: true` on an empty store. */
  demo?: DemoCredentials;
  /** Empties the store back to the starting tenancy (or only one organization's shares). */
  reset(options?: { organization_id?: string }): Promise<ResetResult>;
  /** Runs the reconciler now, ignoring delays (all work, or one share's). */
  reconcile(options?: { share_id?: string; max_steps?: number }): Promise<ReconcileResult>;
  /** Resolves once every recipient and resource of the share has settled; rejects after `timeoutMs`. */
  waitFor(shareId: string, options?: { timeoutMs?: number }): Promise<WaitResult>;
  clock: {
    get(): Promise<ClockState>;
    freeze(): Promise<ClockState>;
    resume(): Promise<ClockState>;
    advance(ms: number): Promise<ClockState>;
    set(time: string | Date): Promise<ClockState>;
  };
  faults: {
    add(rule: FaultRuleInput): Promise<FaultRule>;
    list(): Promise<FaultRule[]>;
    remove(id: string): Promise<void>;
    clear(): Promise<void>;
  };
  /** The request journal, newest first. */
  requests(filter?: JournalFilter): Promise<JournalEntry[]>;
  clearRequests(): Promise<void>;
  getState(): Promise<StateDocument>;
  setState(doc: StateDocument): Promise<StateDocument>;
  close(): Promise<void>;
}

/**
 * Starts rshare in this process. The controls call the admin API over loopback, so they behave exactly
 * as they do for any other client (same validation, same errors).
 */
export async function startRshare(options: StartOptions = {}): Promise<Rshare> {
  const adminToken = options.adminToken ?? newAdminToken();
  const logger = pino({ level: options.logLevel ?? 'silent', redact: REDACT, base: { service: 'rshare' } });
  const server = await startServer(
    {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      database: options.database ?? ':memory:',
      bootstrap: options.bootstrap,
      demo: options.demo ?? false,
      logLevel: options.logLevel ?? 'silent',
      role: options.role,
      drivers: options.drivers,
      resourceTypes: options.resourceTypes,
      leaseMs: options.leaseMs,
      pollMs: options.pollMs,
      poolSize: options.poolSize,
      pgPooler: options.pgPooler,
      adminToken,
      reconcile: options.reconcile,
      reconcileDelayMs: options.reconcileDelayMs,
      idSeed: options.idSeed,
      journalSize: options.journalSize,
      journalBytes: options.journalBytes,
      journalBodyBytes: options.journalBodyBytes,
      rateLimit: options.rateLimit === undefined ? undefined : parseRateLimit(options.rateLimit),
      timeouts: options.timeouts,
      credentialCacheMs: options.credentialCacheMs,
    },
    logger,
  );
  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}${ADMIN_PREFIX}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = (text === '' ? {} : JSON.parse(text)) as {
      success?: boolean;
      result?: T;
      errors?: RshareAdminError['errors'];
    };
    if (!res.ok || json.success === false) throw new RshareAdminError(res.status, json.errors ?? []);
    return json.result as T;
  };
  const query = (filter: object = {}) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) params.set(k, String(v));
    const s = params.toString();
    return s === '' ? '' : `?${s}`;
  };
  return {
    url: server.url,
    baseURL: `${server.url}/client/v4`,
    adminToken,
    demo: server.demo,
    reset: (o) => admin('POST', '/reset', o ?? {}),
    reconcile: (o) => admin('POST', '/reconcile', o ?? {}),
    waitFor: (shareId, o) =>
      admin('POST', '/wait', {
        share_id: shareId,
        ...(o?.timeoutMs === undefined ? {} : { timeout_ms: o.timeoutMs }),
      }),
    clock: {
      get: () => admin('GET', '/clock'),
      freeze: () => admin('POST', '/clock', { freeze: true }),
      resume: () => admin('POST', '/clock', { freeze: false }),
      advance: (ms) => admin('POST', '/clock', { advance_ms: ms }),
      set: (time) => admin('POST', '/clock', { set: time instanceof Date ? time.toISOString() : time }),
    },
    faults: {
      add: (rule) => admin('POST', '/faults', rule),
      list: () => admin('GET', '/faults'),
      remove: async (id) => {
        await admin('DELETE', `/faults/${encodeURIComponent(id)}`);
      },
      clear: async () => {
        await admin('DELETE', '/faults');
      },
    },
    requests: (filter) => admin('GET', `/requests${query(filter)}`),
    clearRequests: async () => {
      await admin('DELETE', '/requests');
    },
    getState: () => admin('GET', '/state'),
    setState: (doc) => admin('PUT', '/state', doc),
    close: () => server.close(),
  };
}
