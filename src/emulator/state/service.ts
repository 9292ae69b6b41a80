import type { ErrorObject, ValidateFunction } from 'ajv';
import { validationError } from '../../http/error-handler.js';
import { NotFoundError, ValidationError } from '../../http/errors.js';
import { findBadText, pointerSegment } from '../../http/validation.js';
import { compileStrict } from '../../lib/strict-validator.js';
import { BUILTIN_RESOURCE_TYPES, type ResourceTypeRegistry } from '../../platform/resource-types/registry.js';
import { bindResourceTypes } from '../../platform/resource-types/schemas.js';
import { isId } from '../../lib/ids.js';
import { checkReferences } from './references.js';
import { toDocument, toRows } from './document.js';
import {
  STATE_FORMAT_VERSION,
  STATE_FORMAT_VERSIONS,
  STATE_SCHEMAS,
  type StateDocument,
  type StateDocumentV1,
} from './schemas.js';
import type { StateRows, StateStore } from './store.js';

const ORGANIZATION_NOT_FOUND = 'Organization not found';

/** Body validation as the HTTP layer does it (same messages), but strict: unknown fields are errors. */
/** Per registry (a server has one), per format version: resource types and entitlements are the server's. */
const validators = new WeakMap<ResourceTypeRegistry, Map<number, ValidateFunction>>();

function validatorFor(
  version: (typeof STATE_FORMAT_VERSIONS)[number],
  types: ResourceTypeRegistry,
): ValidateFunction {
  let byVersion = validators.get(types);
  if (!byVersion) validators.set(types, (byVersion = new Map()));
  let validate = byVersion.get(version);
  if (!validate) {
    validate = compileStrict(bindResourceTypes(STATE_SCHEMAS[version], types));
    byVersion.set(version, validate);
  }
  return validate;
}

const isVersion = (v: unknown): v is (typeof STATE_FORMAT_VERSIONS)[number] =>
  (STATE_FORMAT_VERSIONS as readonly unknown[]).includes(v);

/** Format 1 → 2: tokens' `can_edit` becomes `permissions`; no departures were recorded. */
export function upgradeState(doc: StateDocumentV1 | StateDocument): StateDocument {
  if (doc.format_version === STATE_FORMAT_VERSION) return doc;
  const { format_version: _v, organizations, accounts, users, tokens, ...sharing } = doc;
  return {
    format_version: STATE_FORMAT_VERSION,
    organizations,
    accounts,
    users,
    tokens: tokens.map(({ can_edit, ...t }) => ({
      id: t.id,
      name: t.name,
      secret_digest: t.secret_digest,
      permissions: can_edit ? ['read', 'edit'] : ['read'],
      status: t.status,
      expires_on: t.expires_on,
      accounts: t.accounts,
      organizations: t.organizations,
      created: t.created,
      modified: t.modified,
    })),
    organization_departures: [],
    ...sharing,
  };
}

/**
 * Validates a state document of any accepted format and returns it as the current format. Throws a
 * ValidationError whose pointer names the first bad field: its type or shape, then its references.
 */
export function parseState(
  doc: unknown,
  types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
): StateDocument {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError('The state document must be a JSON object', '');
  }
  const version = (doc as { format_version?: unknown }).format_version;
  if (version === undefined) throw new ValidationError('format_version is required', '/format_version');
  if (!isVersion(version)) {
    throw new ValidationError(
      `format_version must be one of: ${STATE_FORMAT_VERSIONS.join(', ')}`,
      '/format_version',
    );
  }
  // Neither store takes U+0000 or a lone surrogate (the HTTP layer checks this too).
  const bad = findBadText(doc);
  if (bad !== undefined) throw new ValidationError(bad.message, bad.pointer);
  const validate = validatorFor(version, types);
  if (!validate(doc)) throw schemaError(validate.errors ?? []);
  const current = upgradeState(doc as StateDocumentV1 | StateDocument);
  checkReferences(current);
  return current;
}

/** As the HTTP layer words it, except that an unknown field (which the API drops) names the field. */
function schemaError(errors: ErrorObject[]): ValidationError {
  const e = errors[0];
  if (e?.keyword === 'additionalProperties') {
    const field = String((e.params as { additionalProperty: string }).additionalProperty);
    return new ValidationError(`Unknown field ${field}`, `${e.instancePath}/${pointerSegment(field)}`);
  }
  return validationError(errors, 'body');
}

/** What a whole reset keeps: the tenancy tables (the rest of a snapshot hangs off shares). */
const TENANCY_TABLES: ReadonlySet<keyof StateRows> = new Set<keyof StateRows>([
  'organizations',
  'accounts',
  'users',
  'user_accounts',
  'user_organizations',
  'tokens',
  'token_accounts',
  'token_organizations',
  'organization_departures',
]);

/** Whole-store reset and snapshots for test suites, behind the admin API. */
export class StateService {
  /**
   * `exclusive` runs each wholesale change (import, clear, organization clear) with this process's
   * reconciler paused, so no pass in flight writes what it read from the store being replaced.
   */
  constructor(
    private readonly store: StateStore,
    private readonly exclusive: <T>(change: () => Promise<T>) => Promise<T> = (change) => change(),
    private readonly types: ResourceTypeRegistry = BUILTIN_RESOURCE_TYPES,
  ) {}

  /** The whole store as a current-format document. */
  async exportState(): Promise<StateDocument> {
    return toDocument(await this.store.exportRows());
  }

  /**
   * The tenancy alone (organizations, accounts, users, tokens, departures) as a document with no shares:
   * what a whole reset returns to. Reads no share table, so it costs the same at a million shares.
   */
  async exportTenancy(): Promise<StateDocument> {
    return toDocument(await this.store.exportRows(TENANCY_TABLES));
  }

  /** Replaces the whole store with `doc` (any accepted format) in one transaction; unchanged on any error. */
  async importState(doc: unknown): Promise<void> {
    const rows = toRows(parseState(doc, this.types));
    await this.exclusive(() => this.store.importRows(rows));
  }

  /** Empties the store, tenancy included. */
  async clear(): Promise<void> {
    await this.exclusive(() => this.store.clear());
  }

  /** Removes one organization's shares and everything under them; tenancy stays. */
  async clearOrganization(organizationId: string): Promise<{ shares: number }> {
    if (!isId(organizationId)) {
      throw new ValidationError('organization_id must be 32 lowercase hex characters', '/organization_id');
    }
    const cleared = await this.exclusive(() => this.store.clearOrganization(organizationId));
    if (!cleared) throw new NotFoundError(ORGANIZATION_NOT_FOUND);
    return cleared;
  }
}
