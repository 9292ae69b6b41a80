import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Cloudflare from 'cloudflare';
import type { AuditLogV1, AuditLogV2 } from '../src/cloudflare/audit/schemas.js';
import { OWNER, R1, R2, seedShareBody, setup, TOKENS, type Harness } from './helpers.js';
import { buildReconciler } from './support/reconciler.js';

/**
 * The audit logs read by the official SDK over a real socket, as a user would: `client.auditLogs.list`
 * (version 1, page pagination) and `client.accounts.logs.audit.list` (version 2, cursor pagination), each
 * auto-paginating through a share's whole life.
 */

let h: Harness;
let cf: Cloudflare;
let shareId: string;

const LIFE = [
  'Create share',
  'Add share recipient',
  'Share recipient associated',
  'Share recipient associated',
  'Update share resource',
  'Share recipient associated',
  'Share recipient associated',
  'Delete share',
  'Share recipient disassociated',
  'Share recipient disassociated',
  'Share resource deleted',
  'Share deleted',
];

before(async () => {
  h = await setup();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = h.app.server.address() as AddressInfo;
  cf = new Cloudflare({
    apiToken: TOKENS.owner,
    apiKey: null,
    apiEmail: null,
    baseURL: `http://127.0.0.1:${port}/client/v4`,
    maxRetries: 0,
  });
  const reconcile = () => buildReconciler({ store: h.store, clock: h.clock }).reconcileOnce();
  const body = seedShareBody();
  const share = await cf.resourceSharing.create({
    account_id: OWNER,
    name: body.name,
    recipients: body.recipients,
    resources: [
      {
        meta: {},
        resource_account_id: OWNER,
        resource_id: '023e105f4ecef8ad9ca31a8372d0c353',
        resource_type: 'custom-ruleset',
      },
    ],
  });
  shareId = share.id;
  await cf.resourceSharing.recipients.create(shareId, { path_account_id: OWNER, body_account_id: R2 });
  await reconcile();
  const [resource] = (await cf.resourceSharing.resources.list(shareId, { account_id: OWNER })).result;
  assert.ok(resource);
  await cf.resourceSharing.resources.update(resource.id, {
    account_id: OWNER,
    share_id: shareId,
    meta: { v: 2 },
  });
  await reconcile();
  await cf.resourceSharing.delete(shareId, { account_id: OWNER });
  await reconcile();
  await reconcile();
});
after(() => h.close());

describe('audit logs through the SDK', () => {
  test('given a share created, given a recipient, updated, delivered and deleted, when listing version 1 three entries a page, then the SDK walks every page to the whole life, oldest first', async () => {
    const descriptions: string[] = [];
    const owners = new Set<string>();
    for await (const entry of cf.auditLogs.list({ account_id: OWNER, per_page: 3, direction: 'asc' })) {
      descriptions.push(String((entry.action as { type?: string }).type));
      owners.add(String(entry.owner?.id));
      assert.equal(entry.action?.result, true);
      assert.ok(entry.when);
      if (entry.resource?.type === 'share' && entry.action?.type === 'create') {
        assert.equal(entry.resource.id, shareId);
        assert.equal(entry.actor?.ip, '127.0.0.1');
        assert.equal(JSON.parse(entry.newValue ?? '{}').name, 'My Shared WAF Managed Rule');
      }
    }
    assert.deepEqual(owners, new Set([OWNER]));
    assert.deepEqual(descriptions, [
      'create',
      'create',
      'update',
      'update',
      'update',
      'update',
      'update',
      'delete',
      'update',
      'update',
      'delete',
      'delete',
    ]);
  });

  test('given the same life, when listing version 2 two entries a page, then the SDK follows the cursor through every entry, newest first', async () => {
    const descriptions: string[] = [];
    let pages = 0;
    const first = await cf.accounts.logs.audit.list({
      account_id: OWNER,
      since: '2025-01-01',
      before: '2027-01-01',
      limit: 2,
    });
    for await (const page of first.iterPages()) {
      pages++;
      for (const entry of page.getPaginatedItems()) {
        descriptions.push(String(entry.action?.description));
        assert.equal(entry.account?.id, OWNER);
        assert.equal(entry.resource?.product, 'resource_sharing');
      }
    }
    assert.equal(pages, LIFE.length / 2);
    assert.deepEqual(descriptions, [...LIFE].reverse());
  });

  test('given version 2 filters as the SDK sends them (.not variants), then only matching entries come', async () => {
    const system: string[] = [];
    for await (const entry of cf.accounts.logs.audit.list({
      account_id: OWNER,
      since: '2025-01-01',
      before: '2027-01-01',
      actor_type: { not: ['account'] },
    })) {
      assert.equal(entry.actor?.type, 'system');
      system.push(String(entry.action?.description));
    }
    assert.equal(system.length, 8);
  });

  test('given the recipient account, when it lists its own log with its token, then it sees the resource arrive, change and go', async () => {
    const recipient = cf.withOptions({ apiToken: TOKENS.r1 });
    const seen: string[] = [];
    for await (const entry of recipient.accounts.logs.audit.list({
      account_id: R1,
      since: '2025-01-01',
      before: '2027-01-01',
      direction: 'asc',
    })) {
      seen.push(`${entry.action?.type} ${entry.resource?.type} ${entry.resource?.id}`);
    }
    assert.deepEqual(seen, [
      'create custom-ruleset 023e105f4ecef8ad9ca31a8372d0c353',
      'update custom-ruleset 023e105f4ecef8ad9ca31a8372d0c353',
      'delete custom-ruleset 023e105f4ecef8ad9ca31a8372d0c353',
    ]);
  });
});

/** Every field rshare serves is one the SDK 7.3.0 types name (checked by `tsc`, which `npm test` runs). */
type Fields<T> = T extends object ? keyof T : never;
type Unknown<Ours, Sdk> = Exclude<Fields<Ours>, Fields<NonNullable<Sdk>>>;
/** Fails to compile unless `T` is `never`: no field outside the SDK's types. */
type None<T extends never> = T;
type V2 = AuditLogV2;
type SdkV2 = Cloudflare.Accounts.Logs.AuditListResponse;
type V1 = AuditLogV1;
type SdkV1 = Cloudflare.AuditLog;
export type FieldChecks = [
  None<Unknown<V2, SdkV2>>,
  None<Unknown<V2['account'], SdkV2['account']>>,
  None<Unknown<V2['action'], SdkV2['action']>>,
  None<Unknown<V2['actor'], SdkV2['actor']>>,
  None<Unknown<V2['raw'], SdkV2['raw']>>,
  None<Unknown<V2['resource'], SdkV2['resource']>>,
  None<Unknown<V1, SdkV1>>,
  None<Unknown<V1['action'], SdkV1['action']>>,
  None<Unknown<V1['actor'], SdkV1['actor']>>,
  None<Unknown<V1['owner'], SdkV1['owner']>>,
  None<Unknown<V1['resource'], SdkV1['resource']>>,
];
