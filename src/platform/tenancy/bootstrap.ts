import { readFile } from 'node:fs/promises';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import type { Value as ValueApi, ValueError } from '@sinclair/typebox/value';
import type { ResourceTypeRegistry } from '../resource-types/registry.js';
import { ID_PATTERN } from '../../lib/ids.js';
import type { Issue, Pending } from './inputs.js';
import type { BatchSummary, TenancyService } from './service.js';
import { findBadText } from '../../http/validation.js';

const Id = Type.String({ pattern: ID_PATTERN });
const Name = Type.String({ pattern: '\\S' });
const Secret = Type.String({ minLength: 1 });
const Ids = Type.Optional(Type.Array(Id));
const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
const Strict = { additionalProperties: false } as const;

const BootstrapOrganization = Type.Object({ id: Id, name: Name }, Strict);
// Literals rather than the HTTP schema, which the value checker may not understand (it targets Ajv).
const bootstrapAccount = (entitlements: readonly string[]) =>
  Type.Object(
    {
      id: Id,
      name: Name,
      organization_id: Nullable(Id),
      entitlements: Nullable(Type.Array(Type.Union(entitlements.map((t) => Type.Literal(t))))),
    },
    Strict,
  );
const BootstrapUser = Type.Object(
  { email: Type.String(), api_key: Secret, accounts: Ids, organizations: Ids },
  Strict,
);
const BootstrapToken = Type.Object(
  {
    value: Secret,
    name: Name,
    accounts: Ids,
    organizations: Ids,
    permissions: Type.Array(Type.Union([Type.Literal('read'), Type.Literal('edit')])),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
    expires_on: Nullable(Type.String()),
  },
  Strict,
);

/**
 * Declarative tenancy for a self-hosted deployment; applying it twice changes nothing. Entitlements are
 * the server's resource types' (Cloudflare's types, and any the resource-types file declares).
 */
const bootstrapFile = (entitlements: readonly string[]) =>
  Type.Object(
    {
      organizations: Type.Optional(Type.Array(BootstrapOrganization)),
      accounts: Type.Optional(Type.Array(bootstrapAccount(entitlements))),
      users: Type.Optional(Type.Array(BootstrapUser)),
      tokens: Type.Optional(Type.Array(BootstrapToken)),
    },
    Strict,
  );
type BootstrapSchema = ReturnType<typeof bootstrapFile>;
export type BootstrapFile = Static<BootstrapSchema>;

export type BootstrapSummary = BatchSummary;

/** One schema and compiled check per registry (a server has one). */
const compiled = new WeakMap<
  ResourceTypeRegistry,
  { schema: BootstrapSchema; check: TypeCheck<BootstrapSchema> }
>();
/**
 * TypeBox's compiler and value modules (tens of milliseconds to load) are loaded when a bootstrap is
 * first applied, and the value module only to describe a bad file: `rshare serve` without a bootstrap
 * never loads them. The library entry (src/index.ts) preloads the compiler, so an in-process start does
 * not pay for it.
 */
let Value: typeof ValueApi;

/** Reads and parses a bootstrap file; validation happens in `applyBootstrap`. */
export async function loadBootstrapFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`bootstrap ${path}: cannot read file: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`bootstrap ${path}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Validates the whole file (shape, duplicates, references to ids in the file or the store, token values
 * owned by other tokens) and only then upserts organizations, accounts, users and tokens in one
 * transaction, so a bad file writes nothing. Tokens are found by the digest of their value, so a token keeps
 * its id across runs (ids created before ids were random included) while the id says nothing of the value.
 */
export async function applyBootstrap(
  service: TenancyService,
  file: unknown,
  source: string,
): Promise<BootstrapSummary> {
  const fail = (issues: Issue[]): never => {
    throw new Error(`bootstrap ${source}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  };

  // The compiled check costs little even for 20,000 accounts; only a bad file is walked for its errors.
  const types = service.resourceTypes;
  let bootstrapCheck = compiled.get(types);
  if (!bootstrapCheck) {
    const schema = bootstrapFile(types.entitlements);
    bootstrapCheck = {
      schema,
      check: (await import('@sinclair/typebox/compiler')).TypeCompiler.Compile(schema),
    };
    compiled.set(types, bootstrapCheck);
  }
  if (!bootstrapCheck.check.Check(file)) {
    Value = (await import('@sinclair/typebox/value')).Value;
    fail(schemaIssues(bootstrapCheck.schema, file));
  }
  // The API refuses these too: PostgreSQL cannot keep a NUL, and a lone surrogate is not text either store keeps.
  const bad = findBadText(file);
  if (bad) fail([{ path: pointerToPath(bad.pointer), message: bad.message }]);
  const doc = file as BootstrapFile;
  const organizations = doc.organizations ?? [];
  const accounts = (doc.accounts ?? []).map((a) => ({ ...a, organization_id: a.organization_id ?? null }));
  const users = (doc.users ?? []).map((u) => ({
    ...u,
    accounts: u.accounts ?? [],
    organizations: u.organizations ?? [],
  }));
  const tokens = (doc.tokens ?? []).map((t) => ({
    ...t,
    accounts: t.accounts ?? [],
    organizations: t.organizations ?? [],
  }));

  const issues: Issue[] = [
    ...duplicates('organizations', organizations, (o) => o.id, 'id'),
    ...duplicates('accounts', accounts, (a) => a.id, 'id'),
    ...duplicates('users', users, (u) => u.email, 'email'),
    ...duplicates('tokens', tokens, (t) => t.value, 'value'),
  ];
  const pending: Pending = {
    organizations: new Set(organizations.map((o) => o.id)),
    accounts: new Set(accounts.map((a) => a.id)),
  };
  const within = (prefix: string, found: Issue[]) =>
    found.map((i) => ({ path: `${prefix}.${i.path}`, message: i.message }));
  for (const [i, o] of organizations.entries()) {
    issues.push(...within(`organizations[${i}]`, await service.organizationIssues(o, 'put')));
  }
  for (const [i, a] of accounts.entries()) {
    issues.push(...within(`accounts[${i}]`, await service.accountIssues(a, 'put', pending)));
  }
  for (const [i, u] of users.entries()) {
    issues.push(...within(`users[${i}]`, await service.userIssues(u, 'put', pending)));
  }
  for (const [i, t] of tokens.entries()) {
    issues.push(...within(`tokens[${i}]`, await service.tokenIssues(t, 'put', pending)));
  }
  if (issues.length > 0) fail(issues);

  return service.putBatch({ organizations, accounts, users, tokens });
}

/** Secrets are never echoed: a duplicate is reported by the position of its first occurrence. */
function duplicates<T>(kind: string, items: T[], key: (item: T) => string, field: string): Issue[] {
  const seen = new Map<string, number>();
  const issues: Issue[] = [];
  for (const [i, item] of items.entries()) {
    const k = key(item);
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else issues.push({ path: `${kind}[${i}].${field}`, message: `duplicate of ${kind}[${first}]` });
  }
  return issues;
}

/** `/tokens/1/permissions` → `tokens[1].permissions`. */
function pointerToPath(pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(file)' : out;
}

/** One readable issue per failing location, with unions explained instead of "Expected union value". */
function schemaIssues(schema: TSchema, value: unknown, base = ''): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, value)) {
    const pointer = base + error.path;
    if (seen.has(pointer)) continue;
    seen.add(pointer);
    issues.push(...describe(error, pointer));
  }
  return issues;
}

function describe(error: ValueError, pointer: string): Issue[] {
  const path = pointerToPath(pointer);
  const variants = (error.schema as { anyOf?: TSchema[] }).anyOf;
  if (variants) {
    const literals = variants.map((v) => (v as { const?: unknown }).const);
    if (literals.every((l) => typeof l === 'string')) {
      return [{ path, message: `must be one of ${literals.join(', ')}, not ${JSON.stringify(error.value)}` }];
    }
    // Nullable field holding something else: explain what the non-null variant expected.
    const nonNull = variants.filter((v) => (v as { type?: unknown }).type !== 'null');
    if (nonNull.length === 1 && nonNull[0]) return schemaIssues(nonNull[0], error.value, pointer);
  }
  if (error.message === 'Unexpected property') return [{ path, message: 'unknown field' }];
  const pattern = (error.schema as { pattern?: unknown }).pattern;
  if (pattern === ID_PATTERN) return [{ path, message: 'must be 32 lowercase hex characters' }];
  if (pattern === '\\S') return [{ path, message: 'must not be empty' }];
  return [{ path, message: error.message.charAt(0).toLowerCase() + error.message.slice(1) }];
}
