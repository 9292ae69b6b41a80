import fc from 'fast-check';
import {
  ExcludedRecipientRequest,
  ReplaceExcludedRecipientsBody,
} from '../../../src/cloudflare/excluded-recipients/schemas.js';
import { RESOURCE_TYPES } from '../../../src/lib/resource-types.js';
import { RecipientRequest, ReplaceRecipientsBody } from '../../../src/cloudflare/recipients/schemas.js';
import { CreateResourceBody, UpdateResourceBody } from '../../../src/cloudflare/resources/schemas.js';
import { CreateShareBody, UpdateShareBody } from '../../../src/cloudflare/shares/schemas.js';
import {
  base,
  call,
  hexId,
  LONER,
  ORG,
  OTHER_ORG,
  OWNER,
  R1,
  R2,
  R3,
  STRANGER,
  type Harness,
} from '../../helpers.js';
import { BAD_BOOLEANS, BAD_ENUM_VALUES, BAD_INTEGERS, BAD_PER_PAGE, BAD_TAGS } from './hostile.js';
import type { BodySchema, Json } from './mutations.js';

/**
 * The 21 contract operations as the fuzzer sees them: for each, the path parameters, query parameters
 * and body of a request that would succeed against the fixture, what each query parameter refuses, and
 * requests of a valid shape that the service refuses in the fixture's state.
 */

/** Objects made through the API before the run, in every state a write can be refused for. */
export interface Fixture {
  /** Account-targeted, active: recipient R1 associating, R3 removed; resource active, another deleting. */
  accountShare: string;
  recipient: string;
  removedRecipient: string;
  resource: string;
  deletingResource: string;
  /** Organization-targeted, active, R2 excluded. */
  orgShare: string;
  exclusion: string;
  orgResource: string;
  /** Account-targeted and deleting (nothing reconciles during the run, so it stays so). */
  deletingShare: string;
  deletingShareRecipient: string;
  deletingShareResource: string;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Params = Record<string, string>;

/** A request the service refuses although its shape is valid. */
export interface Refused {
  params?: Params;
  body?: Json;
  query?: string;
  note: string;
}

export interface Operation {
  id: string;
  method: Method;
  /** Contract path, `{name}` for parameters. */
  path: string;
  params: fc.Arbitrary<Params>;
  /** Invalid values of each query parameter the route validates. */
  query?: Record<string, fc.Arbitrary<string | string[]>>;
  body?: { schema: BodySchema; valid: fc.Arbitrary<Json> };
  refused?: fc.Arbitrary<Refused>;
}

const schema = (s: unknown) => s as BodySchema;
const pick = <T>(...values: T[]) => fc.constantFrom(...values);

const json = (
  status: number,
  body: { success?: boolean; result?: unknown; errors?: unknown },
  what: string,
) => {
  if (!body.success) throw new Error(`fixture: ${what} failed (${status}): ${JSON.stringify(body.errors)}`);
  return body.result as { id: string; recipients?: unknown };
};

/** Builds the fixture through the API, as the owner. */
export async function createFixture(h: Harness): Promise<Fixture> {
  const post = async (url: string, body: unknown, what: string) => {
    const res = await call(h.app, 'POST', url, { body });
    return json(res.status, res.body, what).id;
  };
  const del = async (url: string, what: string) => {
    const res = await call(h.app, 'DELETE', url);
    json(res.status, res.body, what);
  };
  const recipientOf = async (share: string, account: string) => {
    const res = await call(h.app, 'GET', `${base()}/${share}/recipients`);
    const found = (res.body.result as { id: string; account_id: string }[]).find(
      (r) => r.account_id === account,
    );
    if (!found) throw new Error(`fixture: no recipient ${account} on ${share}`);
    return found.id;
  };
  const resource = (n: number) => ({
    resource_id: `fuzz-resource-${n}`,
    resource_type: 'custom-ruleset',
    resource_account_id: OWNER,
    meta: { n },
  });

  const accountShare = await post(
    base(),
    {
      name: 'fuzz account share',
      recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R3 }],
      resources: [resource(1)],
      tags: { env: 'prod' },
    },
    'account share',
  );
  const resourceId = await post(`${base()}/${accountShare}/resources`, resource(2), 'resource');
  const deletingResource = await post(`${base()}/${accountShare}/resources`, resource(3), 'resource');
  await del(`${base()}/${accountShare}/resources/${deletingResource}`, 'resource delete');
  const removedRecipient = await recipientOf(accountShare, R3);
  await del(`${base()}/${accountShare}/recipients/${removedRecipient}`, 'recipient delete');

  const orgShare = await post(
    base(),
    { name: 'fuzz organization share', recipients: [{ organization_id: ORG }], resources: [resource(4)] },
    'organization share',
  );
  const exclusion = await post(`${base()}/${orgShare}/excluded-recipients`, { account_id: R2 }, 'exclusion');
  const orgResource = await post(`${base()}/${orgShare}/resources`, resource(5), 'resource');

  const deletingShare = await post(
    base(),
    { name: 'fuzz deleting share', recipients: [{ recipient_account_id: R1 }], resources: [resource(6)] },
    'deleting share',
  );
  const deletingShareResource = await post(`${base()}/${deletingShare}/resources`, resource(7), 'resource');
  const deletingShareRecipient = await recipientOf(deletingShare, R1);
  await del(`${base()}/${deletingShare}`, 'share delete');

  return {
    accountShare,
    recipient: await recipientOf(accountShare, R1),
    removedRecipient,
    resource: resourceId,
    deletingResource,
    orgShare,
    exclusion,
    orgResource,
    deletingShare,
    deletingShareRecipient,
    deletingShareResource,
  };
}

// Valid values.

/** Names the server keeps as given: metacharacters and unicode are data, not syntax. */
const name = fc.oneof(
  pick(
    'waf',
    "O'Brien; DROP TABLE shares;--",
    '../../etc/passwd',
    'ünïcødé ✓ 😀',
    '%00 %2F',
    '<script>x</script>',
  ),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /\S/u.test(s)),
);
const safeKey = fc
  .string({ minLength: 1, maxLength: 12 })
  .filter((k) => k !== '__proto__' && k !== 'constructor' && !k.includes('='));
/** Tag keys and meta keys with line breaks: `^(.*)$` patterns used to let these skip validation. */
const key = fc.oneof(safeKey, pick('line\nbreak', 'cr\rkey', 'sep\u2028key', "k'--"));
const tags = fc.dictionary(key, fc.string({ maxLength: 20 }), { maxKeys: 3 });
const metaValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(safeKey, fc.string({ maxLength: 8 }), { maxKeys: 2 }),
);
const meta = fc.dictionary(key, metaValue, { maxKeys: 4 });
const resourceId = fc.oneof(
  pick("r'1;--", '../etc', '%00x', 'ü', 'fz 1'),
  fc.string({ minLength: 1, maxLength: 32 }),
);
const newResource = fc.record({
  resource_id: resourceId,
  resource_type: fc.constantFrom(...RESOURCE_TYPES),
  resource_account_id: fc.constant(OWNER),
  meta,
});
/** An account item under one of the three field names the API accepts. */
const accountItem = (id: string, field: number): Json =>
  ({ [['recipient_account_id', 'account_id', 'body_account_id'][field % 3] as string]: id }) as Json;
const accountItems = fc
  .tuple(fc.subarray([R1, R2, R3]), fc.nat())
  .map(([ids, field]) => ids.map((id, i) => accountItem(id, field + i)));

const createShareBody: fc.Arbitrary<Json> = fc
  .record(
    {
      name,
      recipients: fc.oneof(accountItems, pick([{ organization_id: ORG }], [{}])),
      resources: fc.uniqueArray(newResource, {
        maxLength: 3,
        selector: (r) => `${r.resource_type} ${r.resource_id}`,
      }),
      tags,
    },
    { requiredKeys: ['name', 'recipients', 'resources'] },
  )
  .map((b) => b as Json);

// Invalid query values.

const integers = fc.oneof(pick(...BAD_INTEGERS), pick(['1', '2']));
const perPage = fc.oneof(pick(...BAD_PER_PAGE), pick(['5', '10']));
const booleans = fc.oneof(pick(...BAD_BOOLEANS), pick(['true', 'false']));
const enumOf = (allowed: readonly string[]) => {
  const bad = BAD_ENUM_VALUES.filter((v) => !allowed.includes(v));
  return fc.oneof(pick(...bad), pick([allowed[0] as string, allowed[1] as string]));
};
const shareFilters = {
  page: integers,
  per_page: perPage,
  status: enumOf(['active', 'deleting', 'deleted']),
  kind: enumOf(['sent', 'received']),
  target_type: enumOf(['account', 'organization']),
  // An array parameter: repeating it is fine, one bad item is not.
  resource_types: pick(...BAD_ENUM_VALUES.filter((v) => !(RESOURCE_TYPES as readonly string[]).includes(v))),
  order: enumOf(['name', 'created']),
  direction: enumOf(['asc', 'desc']),
};
const includes = { include_resources: booleans, include_recipient_counts: booleans };
const pages = { page: integers, per_page: perPage };
const tooManyTags = Array.from({ length: 21 }, (_, i) => `t${i}`);

// The operations.

export function operations(f: Fixture): Operation[] {
  const account = (extra: Params = {}) => fc.constant({ account_id: OWNER, ...extra });
  const share = (...ids: string[]) =>
    fc.constantFrom(...ids).map((share_id) => ({ account_id: OWNER, share_id }));
  const A = f.accountShare;
  const O = f.orgShare;
  const D = f.deletingShare;
  const on = (share_id: string, extra: Params = {}): Params => ({ account_id: OWNER, share_id, ...extra });
  const refused = (...items: Refused[]) => fc.constantFrom(...items);
  const unknownAccount = hexId(0xdead, 'b');

  const shares = '/accounts/{account_id}/shares';
  const oneShare = `${shares}/{share_id}`;
  const recipients = `${oneShare}/recipients`;
  const resources = `${oneShare}/resources`;
  const excluded = `${oneShare}/excluded-recipients`;

  return [
    {
      id: 'shares-list',
      method: 'GET',
      path: shares,
      params: account(),
      query: { ...shareFilters, ...includes, tag: fc.oneof(pick(...BAD_TAGS), fc.constant(tooManyTags)) },
    },
    {
      id: 'share-create',
      method: 'POST',
      path: shares,
      params: account(),
      body: { schema: schema(CreateShareBody), valid: createShareBody },
      refused: refused(
        {
          body: { name: 'x', recipients: [{ recipient_account_id: OWNER }], resources: [] },
          note: 'shared with its owner',
        },
        {
          body: { name: 'x', recipients: [{ recipient_account_id: STRANGER }], resources: [] },
          note: 'another organization',
        },
        {
          body: { name: 'x', recipients: [{ recipient_account_id: LONER }], resources: [] },
          note: 'no organization',
        },
        {
          body: { name: 'x', recipients: [{ recipient_account_id: unknownAccount }], resources: [] },
          note: 'unknown account',
        },
        {
          body: { name: 'x', recipients: [{ account_id: R1 }, { recipient_account_id: R1 }], resources: [] },
          note: 'twice',
        },
        {
          body: { name: 'x', recipients: [{ recipient_account_id: R1, account_id: R2 }], resources: [] },
          note: 'aliases differ',
        },
        {
          body: { name: 'x', recipients: [{ organization_id: OTHER_ORG }], resources: [] },
          note: 'other organization',
        },
        {
          body: { name: 'x', recipients: [{ organization_id: ORG }, { account_id: R1 }], resources: [] },
          note: 'mixed',
        },
        {
          body: { name: 'x', recipients: [{ organization_id: ORG, account_id: R1 }], resources: [] },
          note: 'both',
        },
        {
          body: {
            name: 'x',
            recipients: [],
            resources: [
              { resource_id: 'r', resource_type: 'custom-ruleset', resource_account_id: R1, meta: {} },
            ],
          },
          note: 'resource of another account',
        },
        {
          body: {
            name: 'x',
            recipients: [],
            resources: [1, 2].map(() => ({
              resource_id: 'r',
              resource_type: 'custom-ruleset',
              resource_account_id: OWNER,
              meta: {},
            })),
          },
          note: 'resource twice',
        },
        { body: { name: 'x', recipients: [], resources: [], tags: { 'a=b': 'c' } }, note: 'tag key with =' },
        { body: { name: 'x', recipients: [], resources: [], tags: { '': 'c' } }, note: 'empty tag key' },
        {
          body: { name: 'x', recipients: [], resources: [], tags: { ['k'.repeat(257)]: 'c' } },
          note: 'long tag key',
        },
      ),
    },
    {
      id: 'shares-get-by-id',
      method: 'GET',
      path: oneShare,
      params: share(A, O, D),
      query: includes,
    },
    {
      id: 'share-update',
      method: 'PUT',
      path: oneShare,
      params: share(A, O),
      body: {
        schema: schema(UpdateShareBody),
        valid: fc.record({ name, tags }, { requiredKeys: ['name'] }).map((b) => b as Json),
      },
      refused: refused(
        { params: on(D), body: { name: 'x' }, note: 'deleting share' },
        { params: on(A), body: { name: 'x', tags: { 'k=v': 'x' } }, note: 'tag key with =' },
      ),
    },
    {
      id: 'share-delete',
      method: 'DELETE',
      path: oneShare,
      params: share(A, O),
      refused: refused({ params: on(D), note: 'deleting share' }),
    },
    {
      id: 'share-recipients-list',
      method: 'GET',
      path: recipients,
      params: share(A, O, D),
      query: { include_resources: booleans, ...pages },
    },
    {
      id: 'share-recipient-create',
      method: 'POST',
      path: recipients,
      params: share(A),
      body: {
        schema: schema(RecipientRequest),
        valid: fc.tuple(pick(R2, R3), fc.nat()).map(([id, field]) => accountItem(id, field)),
      },
      refused: refused(
        { params: on(A), body: { recipient_account_id: R1 }, note: 'already a recipient' },
        { params: on(A), body: { recipient_account_id: OWNER }, note: 'the owner' },
        { params: on(A), body: { recipient_account_id: STRANGER }, note: 'another organization' },
        { params: on(A), body: { account_id: LONER }, note: 'no organization' },
        { params: on(A), body: {}, note: 'no account' },
        { params: on(A), body: { organization_id: ORG }, note: 'an organization' },
        { params: on(A), body: { recipient_account_id: R2, body_account_id: R3 }, note: 'aliases differ' },
        { params: on(O), body: { recipient_account_id: R1 }, note: 'organization share' },
        { params: on(D), body: { recipient_account_id: R2 }, note: 'deleting share' },
      ),
    },
    {
      id: 'share-recipients-update',
      method: 'PUT',
      path: recipients,
      params: share(A),
      body: { schema: schema(ReplaceRecipientsBody), valid: accountItems },
      refused: refused(
        { params: on(A), body: [{ recipient_account_id: R1 }, { account_id: R1 }], note: 'twice' },
        { params: on(A), body: [{ recipient_account_id: OWNER }], note: 'the owner' },
        { params: on(A), body: [{ recipient_account_id: R1 }, {}], note: 'no account' },
        { params: on(A), body: [{ organization_id: ORG }], note: 'an organization' },
        { params: on(A), body: [{ recipient_account_id: STRANGER }], note: 'another organization' },
        { params: on(O), body: [], note: 'organization share' },
        { params: on(D), body: [], note: 'deleting share' },
      ),
    },
    {
      id: 'share-recipients-get-by-id',
      method: 'GET',
      path: `${recipients}/{recipient_id}`,
      params: fc.constantFrom(
        on(A, { recipient_id: f.recipient }),
        on(A, { recipient_id: f.removedRecipient }),
        on(D, { recipient_id: f.deletingShareRecipient }),
      ),
      query: { include_resources: booleans },
    },
    {
      id: 'share-recipient-delete',
      method: 'DELETE',
      path: `${recipients}/{recipient_id}`,
      params: fc.constant(on(A, { recipient_id: f.recipient })),
      refused: refused(
        { params: on(A, { recipient_id: f.removedRecipient }), note: 'already removed' },
        { params: on(D, { recipient_id: f.deletingShareRecipient }), note: 'deleting share' },
        { params: on(O, { recipient_id: f.recipient }), note: 'organization share' },
      ),
    },
    {
      id: 'share-resources-list',
      method: 'GET',
      path: resources,
      params: share(A, O, D),
      query: {
        status: enumOf(['active', 'deleting', 'deleted']),
        resource_type: enumOf(RESOURCE_TYPES),
        ...pages,
      },
    },
    {
      id: 'share-resource-create',
      method: 'POST',
      path: resources,
      params: share(A, O),
      body: { schema: schema(CreateResourceBody), valid: newResource.map((r) => r as Json) },
      refused: refused(
        {
          params: on(A),
          body: {
            resource_id: 'fuzz-resource-1',
            resource_type: 'custom-ruleset',
            resource_account_id: OWNER,
            meta: {},
          },
          note: 'already shared',
        },
        {
          params: on(A),
          body: { resource_id: 'r', resource_type: 'custom-ruleset', resource_account_id: R1, meta: {} },
          note: 'resource of another account',
        },
        {
          params: on(D),
          body: { resource_id: 'r', resource_type: 'custom-ruleset', resource_account_id: OWNER, meta: {} },
          note: 'deleting share',
        },
      ),
    },
    {
      id: 'share-resources-get-by-id',
      method: 'GET',
      path: `${resources}/{share_resource_id}`,
      params: fc.constantFrom(
        on(A, { share_resource_id: f.resource }),
        on(A, { share_resource_id: f.deletingResource }),
        on(O, { share_resource_id: f.orgResource }),
        on(D, { share_resource_id: f.deletingShareResource }),
      ),
    },
    {
      id: 'share-resource-update',
      method: 'PUT',
      path: `${resources}/{share_resource_id}`,
      params: fc.constantFrom(
        on(A, { share_resource_id: f.resource }),
        on(O, { share_resource_id: f.orgResource }),
      ),
      body: { schema: schema(UpdateResourceBody), valid: meta.map((m) => ({ meta: m }) as Json) },
      refused: refused(
        {
          params: on(A, { share_resource_id: f.deletingResource }),
          body: { meta: {} },
          note: 'deleting resource',
        },
        {
          params: on(D, { share_resource_id: f.deletingShareResource }),
          body: { meta: {} },
          note: 'deleting share',
        },
      ),
    },
    {
      id: 'share-resource-delete',
      method: 'DELETE',
      path: `${resources}/{share_resource_id}`,
      params: fc.constantFrom(
        on(A, { share_resource_id: f.resource }),
        on(O, { share_resource_id: f.orgResource }),
      ),
      refused: refused(
        { params: on(A, { share_resource_id: f.deletingResource }), note: 'deleting resource' },
        { params: on(D, { share_resource_id: f.deletingShareResource }), note: 'deleting share' },
      ),
    },
    {
      id: 'share-excluded-recipients-list',
      method: 'GET',
      path: excluded,
      params: share(O),
      query: pages,
      refused: refused({ params: on(A), note: 'account share' }),
    },
    {
      id: 'share-excluded-recipient-create',
      method: 'POST',
      path: excluded,
      params: share(O),
      body: {
        schema: schema(ExcludedRecipientRequest),
        valid: pick(R1, R3).map((id) => ({ account_id: id }) as Json),
      },
      refused: refused(
        { params: on(O), body: { account_id: R2 }, note: 'already excluded' },
        { params: on(O), body: { account_id: OWNER }, note: 'the owner' },
        { params: on(O), body: { account_id: STRANGER }, note: 'another organization' },
        { params: on(O), body: { account_id: "' OR 1=1--" }, note: 'unknown account' },
        { params: on(A), body: { account_id: R1 }, note: 'account share' },
        { params: on(D), body: { account_id: R1 }, note: 'deleting share' },
      ),
    },
    {
      id: 'share-excluded-recipients-update',
      method: 'PUT',
      path: excluded,
      params: share(O),
      body: {
        schema: schema(ReplaceExcludedRecipientsBody),
        valid: fc.subarray([R1, R2, R3]).map((ids) => ids.map((id) => ({ account_id: id })) as Json),
      },
      refused: refused(
        { params: on(O), body: [{ account_id: R1 }, { account_id: R1 }], note: 'twice' },
        { params: on(O), body: [{ account_id: OWNER }], note: 'the owner' },
        { params: on(O), body: [{ account_id: R1 }, { account_id: LONER }], note: 'no organization' },
        { params: on(A), body: [], note: 'account share' },
        { params: on(D), body: [], note: 'deleting share' },
      ),
    },
    {
      id: 'share-excluded-recipients-get-by-id',
      method: 'GET',
      path: `${excluded}/{excluded_recipient_id}`,
      params: fc.constant(on(O, { excluded_recipient_id: f.exclusion })),
      refused: refused({ params: on(A, { excluded_recipient_id: f.exclusion }), note: 'account share' }),
    },
    {
      id: 'share-excluded-recipient-delete',
      method: 'DELETE',
      path: `${excluded}/{excluded_recipient_id}`,
      params: fc.constant(on(O, { excluded_recipient_id: f.exclusion })),
      refused: refused(
        { params: on(A, { excluded_recipient_id: f.exclusion }), note: 'account share' },
        { params: on(D, { excluded_recipient_id: f.exclusion }), note: 'deleting share' },
      ),
    },
    {
      id: 'organization-shares-list',
      method: 'GET',
      path: '/organizations/{organization_id}/shares',
      params: fc.constant({ organization_id: ORG }),
      query: shareFilters,
    },
  ];
}
