import { type Command, InvalidArgumentError, Option } from 'commander';
import { PG_POOLERS, type PgPooler } from '../adapters/pooler.js';
import {
  parseRateLimit,
  RateLimitOptionError,
  type RateLimitPolicy,
} from '../cloudflare/rate-limit/options.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../platform/resource-types/registry.js';

// What the CLI's commands share: argument parsers, common options, and printing text or JSON.

const DEFAULT_DATABASE = './data/rshare.db';

export interface AdminOptions {
  database: string;
  /** Absent for commands that take no pooler (`migrate-store`: point it at PostgreSQL itself). */
  pgPooler?: PgPooler;
  json?: boolean;
  resourceTypes?: string;
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidArgumentError('expected a port number (0-65535)');
  return port;
}

export function positiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/** An integer of at least `min` (and at most `max`), for options that may be zero or must be more than one. */
export function intAtLeast(min: number, max?: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || !Number.isSafeInteger(n) || (max !== undefined && n > max))
      throw new InvalidArgumentError(
        max === undefined
          ? `expected an integer of at least ${min}`
          : `expected an integer from ${min} to ${max}`,
      );
    return n;
  };
}

export function rateLimitPolicy(value: string): RateLimitPolicy | undefined {
  try {
    return parseRateLimit(value);
  } catch (err) {
    if (err instanceof RateLimitOptionError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** `--account a b --account c,d` → `[a, b, c, d]`. */
export function idList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).filter((v) => v !== '');
}

export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function databaseOption(): Option {
  return new Option('--database <url>', 'SQLite file path, :memory: (nothing on disk) or postgres:// URL')
    .env('DATABASE_URL')
    .default(DEFAULT_DATABASE);
}

export function pgPoolerOption(): Option {
  return new Option(
    '--pg-pooler <mode>',
    'what sits before PostgreSQL: none, or PgBouncer (or alike) in session or transaction mode',
  )
    .env('RSHARE_PG_POOLER')
    .choices(PG_POOLERS)
    .default('none');
}

export function resourceTypesOption(): Option {
  return new Option(
    '--resource-types <file>',
    "this platform's resource types, with meta schema, entitlement and driver (JSON)",
  ).env('RSHARE_RESOURCE_TYPES');
}

/** Adds the options every admin command shares. */
export function admin(command: Command): Command {
  return command
    .addOption(databaseOption())
    .addOption(pgPoolerOption())
    .addOption(resourceTypesOption())
    .option('--json', 'print JSON instead of text');
}

/** The server's resource types, as `serve` reads them (entitlements and seeded types are checked against them). */
export async function resourceTypes(options: AdminOptions): Promise<ResourceTypeRegistry> {
  if (options.resourceTypes === undefined) return BUILTIN_RESOURCE_TYPES;
  const { loadResourceTypesFile } = await import('../platform/resource-types/file.js');
  return loadResourceTypesFile(options.resourceTypes);
}

export function output(options: AdminOptions, json: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${text()}\n`);
}

export function table(header: string[], body: string[][], empty: string): string {
  if (body.length === 0) return empty;
  const rows = [header, ...body];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
