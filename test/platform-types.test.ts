import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import { startRshare, type BootstrapFile, type Rshare, type ResourceTypesFile } from '../src/index.js';
import { ENTITLEMENT_ERROR } from '../src/engine/reconciler/reconciler.js';
import { assertError, type Reply } from './helpers.js';
import { ROOT } from './support/process.js';
import { openTestStore, type TestStore } from './support/store.js';
import { WebhookReceiver } from './support/webhook-receiver.js';
import { ACME_DASHBOARD } from './support/resource-types.js';

const ORG = 'a0000000000000000000000000000021';
const OWNER = 'b0000000000000000000000000000021';
const PEER = 'b0000000000000000000000000000022';
const NARROW = 'b0000000000000000000000000000023';
const TOKEN = 'resource-types-test-token-0001';
const SECRET = 'resource-types-webhook-secret-01';

const BOOTSTRAP: BootstrapFile = {
  organizations: [{ id: ORG, name: 'Acme' }],
  accounts: [
    { id: OWNER, name: 'Owner', organization_id: ORG },
    { id: PEER, name: 'Peer', organization_id: ORG },
    // Holds the dashboards' declared entitlement only: datasets are not for it.
    { id: NARROW, name: 'Narrow', organization_id: ORG, entitlements: ['dashboards'] },
  ],
  tokens: [{ value: TOKEN, name: 'ci', accounts: [OWNER, PEER, NARROW], permissions: ['read', 'edit'] }],
};

const DASHBOARD_SCHEMA = ACME_DASHBOARD.meta_schema;

const platformTypes = (hookUrl: string, dashboardSchema: object = DASHBOARD_SCHEMA): ResourceTypesFile => ({
  builtin_types: true,
  types: {
    'acme-dashboard': {
      ...ACME_DASHBOARD,
      meta_schema: dashboardSchema,
      entitlement: 'dashboards',
      driver: 'inventory',
    },
    'acme-dataset': {
      meta_schema: { type: 'object' },
      driver: 'webhook',
      url: hookUrl,
      secret: SECRET,
      timeout_ms: 10_000,
    },
  },
});

async function api(r: Rshare, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${r.baseURL}/accounts/${OWNER}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

const resource = (type: string, id: string, meta: Record<string, unknown>) => ({
  resource_account_id: OWNER,
  resource_id: id,
  resource_type: type,
  meta,
});

const shareBody = (recipient: string, ...resources: ReturnType<typeof resource>[]) => ({
  name: 'platform share',
  recipients: [{ account_id: recipient }],
  resources,
});

async function shareCount(r: Rshare): Promise<number> {
  const res = await api(r, 'GET', '/shares?per_page=50');
  assert.equal(res.status, 200);
  return (res.body.result as unknown[]).length;
}

interface RecipientView {
  account_id: string;
  association_status: string;
  resources: { resource_id: string; error: string; terminal: boolean }[];
}

async function recipients(r: Rshare, shareId: string): Promise<RecipientView[]> {
  const res = await api(r, 'GET', `/shares/${shareId}/recipients?include_resources=true`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result as RecipientView[];
}

describe('resource types declared in configuration', () => {
  let db: TestStore;
  let receiver: WebhookReceiver;
  let hookUrl: string;
  let r: Rshare;
  before(async () => {
    db = await openTestStore();
    receiver = new WebhookReceiver(SECRET);
    hookUrl = await receiver.start();
    r = await startRshare({
      database: db.url,
      bootstrap: BOOTSTRAP,
      reconcile: 'manual',
      resourceTypes: platformTypes(hookUrl),
    });
  });
  after(async () => {
    await r.close();
    await receiver.close();
    await db.close();
  });
  beforeEach(async () => {
    await r.reset();
    receiver.requests.length = 0;
  });

  it('given a webhook type, when a share of it is reconciled, then a signed delivery moves the recipient from associating to associated', async () => {
    const created = await api(
      r,
      'POST',
      '/shares',
      shareBody(PEER, resource('acme-dataset', 'sales-2026', { rows: 12 })),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const shareId = created.body.result.id as string;
    assert.deepEqual(
      (await recipients(r, shareId)).map((x) => x.association_status),
      ['associating'],
    );
    await r.reconcile();
    assert.deepEqual(
      (await recipients(r, shareId)).map((x) => [x.account_id, x.association_status]),
      [[PEER, 'associated']],
    );
    assert.equal(receiver.requests.length, 1);
    const [delivery] = receiver.requests;
    assert.equal(delivery!.signatureValid, true);
    assert.equal(delivery!.body.action, 'apply');
    assert.equal(delivery!.body.recipient_account_id, PEER);
    assert.deepEqual(
      [
        delivery!.body.resource.resource_type,
        delivery!.body.resource.resource_id,
        delivery!.body.resource.meta,
      ],
      ['acme-dataset', 'sales-2026', { rows: 12 }],
    );
    const audit = await api(r, 'GET', '/logs/audit?since=2000-01-01&before=2999-01-01');
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    const shareEntries = (
      audit.body.result as { action: { type: string }; resource: { id: string } }[]
    ).filter((e) => e.action.type === 'create' && e.resource.id === shareId);
    assert.equal(shareEntries.length, 1, 'the share of a declared type is in the audit log');
    assert.match(JSON.stringify(shareEntries[0]), /"resource_type":"acme-dataset"/);
  });

  it('given a meta schema, when a share is created with a meta it refuses, then 400 1400 points into the meta and nothing is created', async () => {
    const bad = await api(
      r,
      'POST',
      '/shares',
      shareBody(
        PEER,
        resource('acme-dataset', 'ok', {}),
        resource('acme-dashboard', 'd', { region: 'mars' }),
      ),
    );
    assertError(bad, 400, 1400, 'region must be one of: eu, us', '/resources/1/meta/region');
    const missing = await api(r, 'POST', '/shares', shareBody(PEER, resource('acme-dashboard', 'd', {})));
    assertError(missing, 400, 1400, 'region is required', '/resources/0/meta/region');
    const extra = await api(
      r,
      'POST',
      '/shares',
      shareBody(PEER, resource('acme-dashboard', 'd', { region: 'eu', color: 'red' })),
    );
    assertError(extra, 400, 1400, 'meta must NOT have additional properties', '/resources/0/meta');
    assert.equal(await shareCount(r), 0);
  });

  it('given a share of a declared type, when a resource is added or put with a refused meta, then the pointer is /meta/region and the resource keeps its meta', async () => {
    const created = await api(
      r,
      'POST',
      '/shares',
      shareBody(PEER, resource('acme-dashboard', 'd', { region: 'eu' })),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const shareId = created.body.result.id as string;
    const added = await api(
      r,
      'POST',
      `/shares/${shareId}/resources`,
      resource('acme-dashboard', 'e', { region: 7 }),
    );
    assertError(added, 400, 1400, 'region must be one of: eu, us', '/meta/region');
    const list = await api(r, 'GET', `/shares/${shareId}/resources`);
    assert.equal(list.body.result.length, 1);
    const id = list.body.result[0].id as string;
    const updated = await api(r, 'PUT', `/shares/${shareId}/resources/${id}`, { meta: { region: 'mars' } });
    assertError(updated, 400, 1400, 'region must be one of: eu, us', '/meta/region');
    const kept = await api(r, 'GET', `/shares/${shareId}/resources/${id}`);
    assert.deepEqual([kept.body.result.meta, kept.body.result.resource_version], [{ region: 'eu' }, 1]);
    const fine = await api(r, 'PUT', `/shares/${shareId}/resources/${id}`, { meta: { region: 'us' } });
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
    assert.deepEqual(fine.body.result.meta, { region: 'us' });
  });

  it('given an unknown type, when a share is created, then 400 lists the accepted types, built-in and declared', async () => {
    const res = await api(r, 'POST', '/shares', shareBody(PEER, resource('acme-report', 'x', {})));
    assertError(
      res,
      400,
      1400,
      'resource_type must be one of: custom-ruleset, gateway-policy, gateway-destination-ip, gateway-block-page-settings, gateway-extended-email-matching, idp-federation-grant, trust-grant, acme-dashboard, acme-dataset',
      '/resources/0/resource_type',
    );
  });

  it('given a recipient without the entitlement of a type, when reconciled, then that resource has a terminal entitlement error and the declared entitlement lets the other through', async () => {
    const created = await api(
      r,
      'POST',
      '/shares',
      shareBody(
        NARROW,
        resource('acme-dashboard', 'board', { region: 'us' }),
        resource('acme-dataset', 'set', {}),
      ),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await r.reconcile();
    const [view] = await recipients(r, created.body.result.id as string);
    const byId = Object.fromEntries(view!.resources.map((x) => [x.resource_id, [x.error, x.terminal]]));
    assert.deepEqual(byId, { board: ['', false], set: [ENTITLEMENT_ERROR, true] });
    assert.equal(receiver.requests.length, 0, 'nothing is sent to the webhook for an account not entitled');
  });

  it('given declared types, when the served OpenAPI document is read, then its resource_type enum and meta carry them', async () => {
    interface Described {
      properties: { resource_type: { enum: string[] }; meta: Record<string, unknown> };
    }
    const doc = (await (await fetch(`${r.baseURL}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: Described }> } }>
      >;
    };
    const body =
      doc.paths['/accounts/{account_id}/shares/{share_id}/resources']!.post!.requestBody!.content[
        'application/json'
      ]!.schema;
    assert.deepEqual(body.properties.resource_type.enum.slice(-3), [
      'trust-grant',
      'acme-dashboard',
      'acme-dataset',
    ]);
    const shares = doc.paths['/accounts/{account_id}/shares']!.post!.requestBody!.content['application/json']!
      .schema as unknown as { properties: { resources: { items: Described } } };
    assert.deepEqual(
      shares.properties.resources.items.properties.meta['x-rshare-meta-schemas'],
      body.properties.meta['x-rshare-meta-schemas'],
    );
    assert.deepEqual(body.properties.meta['x-rshare-meta-schemas'], {
      'acme-dashboard': DASHBOARD_SCHEMA,
      'acme-dataset': { type: 'object' },
    });
  });

  it('given declared types, when the official SDK shares a built-in type, then it works as before', async () => {
    const cf = new Cloudflare({ apiToken: TOKEN, apiKey: null, apiEmail: null, baseURL: r.baseURL });
    const share = await cf.resourceSharing.create({
      account_id: OWNER,
      name: 'waf',
      recipients: [{ account_id: PEER }],
      resources: [
        {
          resource_account_id: OWNER,
          resource_id: 'rule',
          resource_type: 'custom-ruleset',
          meta: { any: 1 },
        },
      ],
    });
    await r.reconcile();
    const got = await cf.resourceSharing.get(share.id, { account_id: OWNER, include_resources: true });
    assert.deepEqual(
      got.resources?.map((x) => [x.resource_type, x.meta]),
      [['custom-ruleset', { any: 1 }]],
    );
  });
});

/** The CLI as a child process, bounded in time: its exit code, stdout and stderr. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const name of Object.keys(env))
    if (name.startsWith('RSHARE_') && name !== 'RSHARE_PG_POOL') delete env[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** `rshare serve` expected to refuse to start. */
const refusedServe = (args: string[]) => cli(['serve', '--port', '0', ...args]);

describe('changing the resource types of a store in use', () => {
  let db: TestStore;
  let receiver: WebhookReceiver;
  let hookUrl: string;
  let dir: string;
  let shareId: string;
  const lenient = { type: 'object', required: ['region'], properties: { region: { enum: ['eu', 'us'] } } };
  before(async () => {
    db = await openTestStore();
    receiver = new WebhookReceiver(SECRET);
    hookUrl = await receiver.start();
    dir = mkdtempSync(join(tmpdir(), 'rshare-types-'));
    const r = await startRshare({
      database: db.url,
      bootstrap: BOOTSTRAP,
      reconcile: 'manual',
      resourceTypes: platformTypes(hookUrl, lenient),
    });
    try {
      const created = await api(
        r,
        'POST',
        '/shares',
        shareBody(
          PEER,
          resource('acme-dataset', 'set', {}),
          resource('acme-dashboard', 'board', { region: 'eu', note: 'kept' }),
        ),
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      shareId = created.body.result.id as string;
      await r.reconcile();
    } finally {
      await r.close();
    }
  });
  after(async () => {
    await receiver.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const withoutDataset = (): ResourceTypesFile => {
    const file = platformTypes(hookUrl);
    delete file.types['acme-dataset'];
    return file;
  };
  const REFUSAL =
    'the store holds live shares of types it does not declare: "acme-dataset" (1 live share, 1 resource); ' +
    'declare them again, or delete those shares while they are declared (nothing was deleted)';

  it('given a type in use removed from the file, when startRshare starts, then it rejects naming the type and its count', async () => {
    await assert.rejects(
      startRshare({ database: db.url, reconcile: 'manual', resourceTypes: withoutDataset() }),
      {
        message: `resource types object: ${REFUSAL}`,
      },
    );
    await assert.rejects(startRshare({ database: db.url, reconcile: 'manual' }), {
      message:
        'resource types (built-in only): the store holds live shares of types it does not declare: ' +
        '"acme-dashboard" (1 live share, 1 resource), "acme-dataset" (1 live share, 1 resource); ' +
        'declare them again, or delete those shares while they are declared (nothing was deleted)',
    });
  });

  it('given a type in use removed from the file, when `rshare serve` starts, then it exits 1 naming the type on stderr', async () => {
    const path = join(dir, 'types.json');
    writeFileSync(path, JSON.stringify(withoutDataset()));
    const { code, stderr } = await refusedServe(['--database', db.url, '--resource-types', path]);
    assert.equal(code, 1);
    assert.equal(stderr, `rshare: resource types ${path}: ${REFUSAL}\n`);
  });

  it('given an invalid file, when `rshare serve` starts, then it exits 1 naming the place in the file', async () => {
    const path = join(dir, 'invalid.json');
    writeFileSync(path, JSON.stringify({ types: { 'acme-dataset': { meta_schema: { type: 'objekt' } } } }));
    const { code, stderr } = await refusedServe(['--database', db.url, '--resource-types', path]);
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(`^rshare: resource types ${path}: types\\.acme-dataset\\.meta_schema: schema is invalid: `),
    );
  });

  it('given a stricter meta schema, when the server starts again, then stored resources keep their meta and are still delivered, and only new writes are checked', async () => {
    const r = await startRshare({
      database: db.url,
      reconcile: 'manual',
      resourceTypes: platformTypes(hookUrl),
    });
    try {
      const res = await api(r, 'GET', `/shares/${shareId}/resources?resource_type=acme-dashboard`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [board] = res.body.result as { id: string; meta: unknown }[];
      assert.deepEqual(board!.meta, { region: 'eu', note: 'kept' });
      const added = await api(r, 'POST', `/shares/${shareId}/recipients`, { account_id: NARROW });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      await r.reconcile();
      const narrow = (await recipients(r, shareId)).find((x) => x.account_id === NARROW);
      assert.equal(narrow?.association_status, 'associated');
      assert.deepEqual(
        narrow.resources.map((x) => [x.resource_id, x.error, x.terminal]),
        [
          ['set', ENTITLEMENT_ERROR, true],
          ['board', '', false],
        ],
      );
      const rewritten = await api(r, 'PUT', `/shares/${shareId}/resources/${board!.id}`, {
        meta: { region: 'eu', note: 'kept' },
      });
      assertError(rewritten, 400, 1400, 'meta must NOT have additional properties', '/meta');
    } finally {
      await r.close();
    }
  });

  it('given a declared entitlement, when the admin CLI creates an account with it, then it is accepted with the file and refused without', async () => {
    const path = join(dir, 'all-types.json');
    writeFileSync(path, JSON.stringify(platformTypes(hookUrl)));
    const args = ['account', 'create', '--name', 'Boards only', '--org', ORG, '--entitlements', 'dashboards'];
    const refused = await cli([...args, '--database', db.url]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /entitlements\[0\]: unknown resource type "dashboards" \(expected one of custom-ruleset, /,
    );
    const created = await cli([...args, '--database', db.url, '--resource-types', path, '--json']);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual((JSON.parse(created.stdout) as { entitlements: string[] }).entitlements, ['dashboards']);
  });

  it('given a file without custom-ruleset, when `rshare seed` runs, then it refuses before writing', async () => {
    const path = join(dir, 'declared-only.json');
    writeFileSync(path, JSON.stringify({ ...platformTypes(hookUrl), builtin_types: false }));
    const seeded = await cli([
      'seed',
      '--accounts',
      '2',
      '--shares',
      '1',
      '--database',
      db.url,
      '--resource-types',
      path,
    ]);
    assert.equal(seeded.code, 1);
    assert.equal(
      seeded.stderr,
      'rshare: seed: it creates custom-ruleset resources, which the resource types file does not declare\n',
    );
  });
});
