import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import {
  DIGEST_PATTERN,
  Entitlement,
  ResourceType,
  StoredId,
  StoredStamp,
  StringEnum,
} from '../../http/common-schemas.js';
import { ResourceMeta, ResourceStatus } from '../../cloudflare/resources/schemas.js';
import { Tags } from '../../cloudflare/shares/schemas.js';
import { ShareRecord } from '../../cloudflare/shares/table.js';

/**
 * The state document of `GET/PUT /_rshare/state`: the whole store as logical objects, not raw tables.
 *
 * Format 2 (current): `{format_version: 2, organizations, accounts, users, tokens, organization_departures,
 * shares, recipients, resources, excluded_recipients, deliveries, inventory, work}`. Users and tokens
 * carry their scope (`accounts`, `organizations`) and the stored SHA-256 digest of their secret
 * (`api_key_digest`, `secret_digest`), never a secret; tokens carry `permissions` (`["read"]` or
 * `["read", "edit"]`); shares carry their `tags` object; `deliveries` are the reconciler's per-recipient,
 * per-resource delivery states, `inventory` what the inventory driver applied in recipient accounts, and
 * `work` the pending reconciler work (unleased). Every array is sorted by its primary key (scopes keep the
 * order they were written in). What the store derives (share numbering, visibility) is not in it.
 *
 * Format 1: as format 2, except that tokens carry `can_edit: boolean` instead of `permissions`, and there
 * is no `organization_departures` (read as none).
 */
export const STATE_FORMAT_VERSION = 2;
export const STATE_FORMAT_VERSIONS = [1, 2] as const;

/** PostgreSQL `integer` columns. */
const INT4_MAX = 2_147_483_647;

const Strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Id = StoredId;
const Ids = Type.Array(Id);
const Name = Type.String({ pattern: '\\S' });
const Stamp = StoredStamp;
const Digest = Type.String({ pattern: DIGEST_PATTERN });
const Int4 = (minimum: number) => Type.Integer({ minimum, maximum: INT4_MAX });
/** What the API accepts as a resource id (`varchar(32)` on PostgreSQL). */
const ResourceId = Type.String({ minLength: 1, maxLength: 32 });
const Stamps = { created: Stamp, modified: Stamp };

export const StateOrganization = Type.Object({ id: Id, name: Name, ...Stamps }, Strict);

export const StateAccount = Type.Object(
  {
    id: Id,
    name: Name,
    organization_id: Nullable(Id),
    /** Resource types the account may receive; null means every type. */
    entitlements: Nullable(Type.Array(Entitlement)),
    ...Stamps,
  },
  Strict,
);

export const StateUser = Type.Object(
  {
    id: Id,
    email: Type.String({ minLength: 1, maxLength: 254 }),
    api_key_digest: Digest,
    accounts: Ids,
    organizations: Ids,
    ...Stamps,
  },
  Strict,
);

const tokenFields = <P extends TProperties>(permission: P) => ({
  id: Id,
  name: Name,
  secret_digest: Digest,
  ...permission,
  status: StringEnum(['active', 'disabled'] as const),
  expires_on: Nullable(Type.String({ format: 'date-time' })),
  accounts: Ids,
  organizations: Ids,
  ...Stamps,
});

export const Permissions = Type.Array(StringEnum(['read', 'edit'] as const), {
  minItems: 1,
  maxItems: 2,
  uniqueItems: true,
});

export const StateToken = Type.Object(tokenFields({ permissions: Permissions }), Strict);

export const StateDeparture = Type.Object({ organization_id: Id, account_id: Id }, Strict);

/** A share as stored (its record's columns, ../../cloudflare/shares/table.ts), with its tags before its stamps. */
const { created, modified, ...shareFields } = ShareRecord.properties;
export const StateShare = Type.Object({ ...shareFields, tags: Tags, created, modified }, Strict);

export const StateRecipient = Type.Object(
  {
    id: Id,
    share_id: Id,
    account_id: Id,
    desired_status: StringEnum(['associated', 'disassociated'] as const),
    status: StringEnum(['associating', 'associated', 'disassociating', 'disassociated'] as const),
    ...Stamps,
  },
  Strict,
);

export const StateResource = Type.Object(
  {
    id: Id,
    share_id: Id,
    resource_id: ResourceId,
    resource_type: ResourceType,
    resource_account_id: Id,
    meta: ResourceMeta,
    status: ResourceStatus,
    resource_version: Int4(1),
    ...Stamps,
  },
  Strict,
);

export const StateExclusion = Type.Object({ id: Id, share_id: Id, account_id: Id, ...Stamps }, Strict);

export const StateDelivery = Type.Object(
  {
    recipient_id: Id,
    share_resource_id: Id,
    applied_version: Nullable(Int4(0)),
    error: Type.String(),
    terminal: Type.Boolean(),
    error_version: Nullable(Int4(0)),
    modified: Stamp,
  },
  Strict,
);

export const StateInventory = Type.Object(
  {
    account_id: Id,
    share_resource_id: Id,
    share_id: Id,
    resource_id: ResourceId,
    resource_type: ResourceType,
    resource_account_id: Id,
    meta: ResourceMeta,
    resource_version: Int4(1),
    ...Stamps,
  },
  Strict,
);

export const StateWork = Type.Object(
  {
    kind: StringEnum(['recipient', 'share', 'organization'] as const),
    id: Id,
    generation: Int4(1),
    /** Epoch milliseconds; 0 means due now. */
    due_at: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    attempts: Int4(0),
    last_error: Nullable(Type.String()),
  },
  Strict,
);

/** The arrays after the tenancy ones, shared by both formats. */
const sharing = {
  shares: Type.Array(StateShare),
  recipients: Type.Array(StateRecipient),
  resources: Type.Array(StateResource),
  excluded_recipients: Type.Array(StateExclusion),
  deliveries: Type.Array(StateDelivery),
  inventory: Type.Array(StateInventory),
  work: Type.Array(StateWork),
};

export const StateDocument = Type.Object(
  {
    format_version: Type.Literal(2),
    organizations: Type.Array(StateOrganization),
    accounts: Type.Array(StateAccount),
    users: Type.Array(StateUser),
    tokens: Type.Array(StateToken),
    organization_departures: Type.Array(StateDeparture),
    ...sharing,
  },
  Strict,
);
export type StateDocument = Static<typeof StateDocument>;

export const StateTokenV1 = Type.Object(tokenFields({ can_edit: Type.Boolean() }), Strict);

export const StateDocumentV1 = Type.Object(
  {
    format_version: Type.Literal(1),
    organizations: Type.Array(StateOrganization),
    accounts: Type.Array(StateAccount),
    users: Type.Array(StateUser),
    tokens: Type.Array(StateTokenV1),
    ...sharing,
  },
  Strict,
);
export type StateDocumentV1 = Static<typeof StateDocumentV1>;

/** The schema of each accepted format version. */
export const STATE_SCHEMAS: Record<(typeof STATE_FORMAT_VERSIONS)[number], TObject> = {
  1: StateDocumentV1,
  2: StateDocument,
};
