import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDrivers } from '../src/platform/resource-types/drivers-file.js';
import { RESOURCE_TYPES } from '../src/lib/resource-types.js';
import { TenancyService } from '../src/platform/tenancy/service.js';
import { base, call, OWNER, R1, seedShareBody, setup, type Harness } from './helpers.js';

/** The official SDK's `ResourceType` union, read from its published typings. */
function sdkResourceTypes(): string[] {
  const typings = readFileSync(
    new URL('../node_modules/cloudflare/resources/resource-sharing/resources.d.ts', import.meta.url),
    'utf8',
  );
  const union = /^\s*resource_type: ('[^;]+' \| '[^;]+);$/m.exec(typings)?.[1];
  assert.ok(union, 'the SDK typings declare resource_type');
  return [...union.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);
}

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => {
  await h.close();
});

describe('RESOURCE_TYPES', () => {
  test("given the cloudflare SDK 7.3.0 in node_modules, when reading its ResourceType, then rshare's list is the same, trust-grant included", () => {
    assert.deepEqual([...RESOURCE_TYPES], sdkResourceTypes());
    assert.ok(RESOURCE_TYPES.includes('trust-grant'));
  });

  test('given a trust-grant resource, when creating a share with it and adding another, then both are 201 and filter by type', async () => {
    const body = seedShareBody();
    body.resources = [{ ...body.resources[0], resource_type: 'trust-grant' }] as typeof body.resources;
    const created = await call(h.app, 'POST', base(), { body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const shareId = created.body.result.id as string;
    const added = await call(h.app, 'POST', `${base()}/${shareId}/resources`, {
      body: { resource_id: 'grant-2', resource_type: 'trust-grant', resource_account_id: OWNER, meta: {} },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.result.resource_type, 'trust-grant');
    const listed = await call(h.app, 'GET', `${base()}/${shareId}/resources?resource_type=trust-grant`);
    assert.equal(listed.body.result_info.total_count, 2);
    const shares = await call(h.app, 'GET', `${base()}?resource_types=trust-grant`);
    assert.deepEqual(
      shares.body.result.map((s: { id: string }) => s.id),
      [shareId],
    );
  });

  test('given trust-grant, when an account is entitled to it, then the entitlement is stored', async () => {
    const service = new TenancyService(h.store.tenancy, h.clock);
    const set = await service.setEntitlements(R1, ['trust-grant']);
    assert.deepEqual(set.row.entitlements, ['trust-grant']);
  });

  test('given a drivers file naming trust-grant, when parsing it, then it is accepted', async () => {
    const file = { 'trust-grant': { driver: 'inventory' } };
    assert.deepEqual(await parseDrivers(file, 'drivers.json'), file);
  });

  test('given the served OpenAPI document, when reading the resource_type of a new resource, then its enum is the list', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/client/v4/openapi.json' });
    const doc = JSON.parse(res.body) as {
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
    };
    const schema = doc.paths['/accounts/{account_id}/shares/{share_id}/resources']?.post.requestBody.content[
      'application/json'
    ]?.schema as { properties: { resource_type: { enum: string[] } } };
    assert.deepEqual(schema.properties.resource_type.enum, [...RESOURCE_TYPES]);
  });
});
