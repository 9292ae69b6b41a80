import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { adminRoutes, type AdminServices } from '../src/emulator/admin/routes.js';
import { buildApp } from '../src/app.js';
import { API_ROOT } from '../src/http/paths.js';
import { openSqliteStore } from '../src/adapters/sqlite/index.js';
import type { Store } from '../src/adapters/store.js';
import { FaultRegistry } from '../src/emulator/faults/service.js';
import type { App } from '../src/http/types.js';
import { Journal } from '../src/emulator/journal/service.js';
import { systemClock } from '../src/lib/clock.js';
import { ShareObject } from '../src/cloudflare/shares/schemas.js';
import { assertError, type Reply } from './helpers.js';
import {
  Contract,
  HTTP_METHODS,
  servedRoutes,
  toFastifyPath,
  type OpenApiDocument,
} from './support/contract.js';
import { assertNoRoute, nonEmpty } from './support/assert.js';

const ADMIN = 'admin-token-for-openapi-tests-01';
const API_SECURITY = [{ api_token: [] }, { api_email: [], api_key: [] }];
const contract = Contract.load();

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  servers?: { url: string }[];
}
type PathItem = Partial<Record<(typeof HTTP_METHODS)[number], Operation>> & { servers?: { url: string }[] };
interface Served {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, PathItem>;
  components: { securitySchemes: Record<string, Record<string, string>>; schemas?: object };
}

/** Every (METHOD, path, operation, path item) of the document. */
function operationsOf(doc: Served) {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    HTTP_METHODS.flatMap((m) => {
      const op = item[m];
      return op ? [{ method: m.toUpperCase(), path, op, item }] : [];
    }),
  );
}

/** Where an operation is served: its path under the path's server override, else under the document's. */
const servedAt = (doc: Served, path: string) => {
  const server = doc.paths[path]?.servers?.[0]?.url ?? doc.servers[0]?.url ?? '';
  return `${server.replace(/\/$/, '')}${path}`;
};

/** Each `$ref` in the document with where it is. */
function refsOf(value: unknown, at = '#'): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refsOf(v, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [[at, v] as [string, string]] : refsOf(v, `${at}/${k}`),
  );
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

async function get(app: App, url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers });
}

const asReply = (res: Awaited<ReturnType<typeof get>>): Reply => ({
  status: res.statusCode,
  headers: res.headers,
  body: res.body === '' ? undefined : JSON.parse(res.body),
});

describe('the OpenAPI document', () => {
  let store: Store;
  let app: App;
  let doc: Served;
  let served: Contract;

  before(async () => {
    store = openSqliteStore(':memory:');
    app = await buildApp({
      store,
      metrics: new Registry(),
      // Only described here, never called: the admin routes need no services to be added.
      admin: { token: ADMIN, routes: (a) => adminRoutes(a, {} as AdminServices) },
    });
    const res = await get(app, `${API_ROOT}/openapi.json`);
    assert.equal(res.statusCode, 200, res.body);
    doc = JSON.parse(res.body) as Served;
    served = new Contract(doc as unknown as OpenApiDocument);
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  it('given no credentials, when getting /client/v4/openapi.json, then it is an OpenAPI 3.0 document served relative to /client/v4 with both Cloudflare security schemes', async () => {
    const res = await get(app, `${API_ROOT}/openapi.json`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(doc.openapi, '3.0.3');
    assert.deepEqual(
      doc.servers.map((s) => s.url),
      [API_ROOT],
    );
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.api_token, { ...schemes.api_token, type: 'http', scheme: 'bearer' });
    assert.deepEqual(schemes.api_email, {
      ...schemes.api_email,
      type: 'apiKey',
      in: 'header',
      name: 'X-Auth-Email',
    });
    assert.deepEqual(schemes.api_key, {
      ...schemes.api_key,
      type: 'apiKey',
      in: 'header',
      name: 'X-Auth-Key',
    });
    assert.deepEqual(schemes.admin_token, { ...schemes.admin_token, type: 'http', scheme: 'bearer' });
  });

  it('given the document, when resolving every $ref and compiling every response schema, then none dangles and all compile', () => {
    // The served document inlines every schema today (no $ref at all); this guards any ref added later.
    for (const [at, ref] of refsOf(doc)) {
      assert.notEqual(resolvePointer(doc, ref), undefined, `${at}: ${ref} does not resolve`);
    }
    for (const { method, path, op } of nonEmpty(operationsOf(doc), 'operations')) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (!response.content?.['application/json']) continue;
        // A body that matches nothing: compiling is what is checked, so only a crash fails.
        const code = /^\d+$/.test(status) ? Number(status) : Number(status[0]) * 100;
        assert.throws(
          () => served.assertRouteResponse(method, path, { status: code, body: Symbol.for('never') }),
          /does not match/,
          `${method} ${path} ${status}`,
        );
      }
    }
  });

  it('given every operation, then each has a unique operationId, a success response and a security requirement naming declared schemes', () => {
    const ops = operationsOf(doc);
    const ids = ops.map(({ op }) => op.operationId);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const { method, path, op } of nonEmpty(ops, 'operations')) {
      const name = `${method} ${path}`;
      assert.ok(op.operationId, `${name}: operationId`);
      assert.ok(
        Object.keys(op.responses ?? {}).some((k) => /^2\d\d$/.test(k)),
        `${name}: a success response`,
      );
      assert.ok(Array.isArray(op.security), `${name}: security`);
      for (const requirement of op.security ?? []) {
        for (const scheme of Object.keys(requirement)) {
          assert.ok(doc.components.securitySchemes[scheme], `${name}: scheme ${scheme} is declared`);
        }
      }
    }
  });

  it("given the contract, when comparing operations, then the document has the 21 contract operations at the contract's paths and methods, with the contract's operationIds, either credential and the error envelope for 4XX and 5XX", () => {
    assert.equal(contract.operations.length, 21);
    for (const expected of contract.operations) {
      const op = served.at(expected.method, expected.path);
      assert.equal(op.operationId, expected.operationId, `${expected.method} ${expected.path}`);
      const raw = doc.paths[expected.path]?.[expected.method.toLowerCase() as 'get'];
      assert.deepEqual(raw?.security, API_SECURITY, expected.operationId);
      assert.ok(raw?.responses?.['4XX'] && raw.responses['5XX'], `${expected.operationId}: 4XX and 5XX`);
      assert.equal(servedAt(doc, expected.path), `${API_ROOT}${expected.path}`);
    }
  });

  it('given the app, when listing the routes it serves, then every one is in the document and the document has no other (the docs page aside)', () => {
    const routes = [...servedRoutes(app.printRoutes({ commonPrefix: false }))].filter(
      (r) => !r.startsWith('HEAD ') && !r.includes(' /docs'),
    );
    const documented = operationsOf(doc).map(
      ({ method, path }) => `${method} ${toFastifyPath(servedAt(doc, path))}`,
    );
    assert.deepEqual([...documented].sort(), [...routes].sort());
    // The routes outside the API root are there, each with its server override.
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/_rshare/reset',
      '/_rshare/state',
      '/_rshare/faults',
    ]) {
      assert.deepEqual(
        doc.paths[path]?.servers?.map((s) => s.url),
        ['/'],
        path,
      );
    }
  });

  it('given the admin API and the operational routes, then admin operations take the admin token and the others no credential', () => {
    for (const { method, path, op } of nonEmpty(operationsOf(doc), 'operations')) {
      const name = `${method} ${path}`;
      if (path.startsWith('/_rshare/')) assert.deepEqual(op.security, [{ admin_token: [] }], name);
      else if (['/healthz', '/readyz', '/metrics', '/openapi.json'].includes(path))
        assert.deepEqual(op.security, [], name);
      else assert.deepEqual(op.security, API_SECURITY, name);
    }
  });

  it("given a share's response schema, then it is rshare's own TypeBox schema (the serializer's), not the contract's", () => {
    const op = doc.paths['/accounts/{account_id}/shares/{share_id}']?.get;
    const schema = op?.responses?.['200']?.content?.['application/json']?.schema as {
      properties: { result: { properties: object; required: string[] } };
    };
    assert.deepEqual(Object.keys(schema.properties.result.properties), Object.keys(ShareObject.properties));
    assert.deepEqual(schema.properties.result.required, ShareObject.required);
  });

  it('given the validator over the served document, when a body breaks it, then it is rejected (so a pass means something)', () => {
    const share = {
      id: 'f'.repeat(32),
      name: 'n',
      account_id: 'b'.repeat(32),
      account_name: 'a',
      organization_id: 'a'.repeat(32),
      created: '2026-01-01T00:00:00.000001Z',
      modified: '2026-01-01T00:00:00.000001Z',
      status: 'active',
      target_type: 'account',
      kind: 'sent',
    };
    const path = '/accounts/{account_id}/shares/{share_id}';
    const ok = { success: true, errors: [], messages: [], result: share };
    served.assertRouteResponse('GET', path, { status: 200, body: ok });
    const { account_name: _dropped, ...missing } = share;
    assert.throws(
      () => served.assertRouteResponse('GET', path, { status: 200, body: { ...ok, result: missing } }),
      /account_name/,
    );
    assert.throws(
      () =>
        served.assertRouteResponse('GET', path, {
          status: 200,
          body: { ...ok, result: { ...share, status: 'gone' } },
        }),
      /allowed values/,
    );
    assert.throws(
      () =>
        served.assertRouteResponse('GET', path, {
          status: 404,
          body: { success: false, errors: [{ code: 1404 }], messages: [], result: null },
        }),
      /message/,
    );
  });

  it('given the error envelope of the served document, then an error may carry error_chain, and a header refusal and a routing refusal validate against it', async () => {
    const shares = doc.paths['/accounts/{account_id}/shares']?.get?.responses?.['4XX'];
    const schema = shares?.content?.['application/json']?.schema as {
      properties: { errors: { items: { properties: Record<string, { items?: { properties?: object } }> } } };
    };
    const item = schema.properties.errors.items.properties;
    assert.deepEqual(Object.keys(item.error_chain?.items?.properties ?? {}), ['code', 'message']);
    const header = asReply(
      await app.inject({
        method: 'GET',
        url: `${API_ROOT}/accounts/${'b'.repeat(32)}/shares`,
        headers: { authorization: 'Basic eA==' },
      }),
    );
    assert.equal(header.body.errors[0].error_chain[0].code, 6111);
    served.assertRouteResponse('GET', '/accounts/{account_id}/shares', header);
    const route = asReply(await get(app, `${API_ROOT}/accounts/not-an-id/shares`));
    assert.deepEqual(
      route.body.errors.map((e: { code: number }) => e.code),
      [7003, 7000],
    );
    served.assertRouteResponse('GET', '/accounts/{account_id}/shares', route);
  });

  it('given an unknown share, when getting it, then the 404 validates against the error envelope of the served document', async () => {
    const res = asReply(await get(app, `${API_ROOT}/accounts/${'b'.repeat(32)}/shares/${'f'.repeat(32)}`));
    assertError(res, 400, 9106, 'Missing X-Auth-Key, X-Auth-Email or Authorization headers');
    served.assertRouteResponse('GET', '/accounts/{account_id}/shares/{share_id}', res);
    const unknown = asReply(await get(app, `${API_ROOT}/openapi.json/nothing`));
    assertNoRoute(unknown);
    served.assertRouteResponse('GET', '/accounts/{account_id}/shares/{share_id}', unknown);
  });
});

describe('the docs page', () => {
  let store: Store;
  let app: App;

  before(async () => {
    store = openSqliteStore(':memory:');
    app = await buildApp({ store });
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  it('given /docs, when getting it, then Swagger UI is served with a same-origin content security policy and every asset it names answers', async () => {
    const page = await get(app, '/docs');
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'.*script-src 'self'/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(assets.includes('/docs/static/swagger-ui-bundle.js'), assets.join(', '));
    for (const asset of assets) {
      assert.ok(asset.startsWith('/docs/static/'), `${asset} is served here`);
      const res = await get(app, asset);
      assert.equal(res.statusCode, 200, asset);
      assert.ok(res.rawPayload.length > 0, asset);
    }
  });

  it('given the page, when it asks for its document (./json), then it gets the same document as /client/v4/openapi.json', async () => {
    const fromPage = await get(app, '/docs/json');
    const served = await get(app, `${API_ROOT}/openapi.json`);
    assert.equal(fromPage.statusCode, 200);
    assert.deepEqual(JSON.parse(fromPage.body), JSON.parse(served.body));
  });

  it('given an asset already fetched, when asked again with its ETag, then 304', async () => {
    const first = await get(app, '/docs/static/swagger-ui.css');
    const etag = String(first.headers.etag);
    const again = await get(app, '/docs/static/swagger-ui.css', { 'if-none-match': etag });
    assert.equal(again.statusCode, 304);
  });

  it('given a file that is not there, when getting it under /docs, then the unknown-route envelope', async () => {
    assertNoRoute(asReply(await get(app, '/docs/static/nothing.js')));
    assertNoRoute(asReply(await get(app, '/docs/static/../../package.json')));
  });
});

describe('the document and the test-suite controls', () => {
  it('given a fault rule on every GET and a journal, when getting the document and the page, then neither is faulted nor journaled', async () => {
    const store = openSqliteStore(':memory:');
    const faults = new FaultRegistry();
    const journal = new Journal({ clock: systemClock });
    faults.add({ method: 'GET', path: '/**', status: 503 });
    const app = await buildApp({ store, faults, journal });
    try {
      assert.equal((await get(app, `${API_ROOT}/openapi.json`)).statusCode, 200);
      assert.equal((await get(app, '/docs')).statusCode, 200);
      assert.equal((await get(app, '/docs/static/swagger-ui.css')).statusCode, 200);
      // The rule is live: the API itself is faulted and journaled.
      assert.equal((await get(app, `${API_ROOT}/user/tokens/verify`)).statusCode, 503);
      assert.deepEqual(
        journal.list().map((e) => e.path),
        [`${API_ROOT}/user/tokens/verify`],
      );
    } finally {
      await app.close();
      await store.close();
    }
  });
});

describe('a worker node', () => {
  it('given --role worker (no API), when getting the document or the page, then both are unknown routes', async () => {
    const store = openSqliteStore(':memory:');
    const app = await buildApp({ store, api: false });
    try {
      for (const url of [`${API_ROOT}/openapi.json`, '/docs', '/docs/static/swagger-ui.css']) {
        assertNoRoute(asReply(await get(app, url)));
      }
    } finally {
      await app.close();
      await store.close();
    }
  });
});
