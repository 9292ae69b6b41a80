import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadResourceTypesFile, parseResourceTypes } from '../src/platform/resource-types/file.js';
import { RESOURCE_TYPES } from '../src/lib/resource-types.js';
import { BUILTIN_RESOURCE_TYPES } from '../src/platform/resource-types/registry.js';
import { bindResourceTypes, META_SCHEMAS_EXTENSION } from '../src/platform/resource-types/schemas.js';
import { CreateShareBody } from '../src/cloudflare/shares/schemas.js';
import { ACME_DASHBOARD } from './support/resource-types.js';

const hook = { driver: 'webhook', url: 'https://datasets.internal/hook', secret: 'at-least-16-chars' };

/** The issue's own example file. */
const EXAMPLE = {
  builtin_types: true,
  types: {
    'acme-dashboard': {
      ...ACME_DASHBOARD,
      entitlement: 'acme-dashboard',
      driver: 'inventory',
    },
    'acme-dataset': { meta_schema: { type: 'object' }, ...hook, timeout_ms: 10000 },
  },
};

const withType = (entry: unknown, name = 'acme-dataset') => ({ types: { [name]: entry } });

describe('parseResourceTypes', () => {
  it("given the issue's example, when parsed, then built-in and declared types, entitlements and drivers are registered", async () => {
    const types = await parseResourceTypes(EXAMPLE, 'types.json');
    assert.deepEqual(types.names, [...RESOURCE_TYPES, 'acme-dashboard', 'acme-dataset']);
    assert.equal(types.entitlementOf('acme-dataset'), 'acme-dataset');
    assert.deepEqual(types.get('acme-dataset')?.driver, { ...hook, timeout_ms: 10000 });
    assert.deepEqual(types.get('acme-dashboard')?.driver, { driver: 'inventory' });
    assert.equal(types.metaProblem('acme-dashboard', { region: 'eu' }), undefined);
    assert.equal(types.metaProblem('acme-dashboard', { region: 'mars' })?.instancePath, '/region');
    assert.equal(types.metaProblem('custom-ruleset', { anything: 1 }), undefined);
  });

  it('given builtin_types false, when parsed, then only the declared types remain', async () => {
    const types = await parseResourceTypes({ builtin_types: false, ...withType({}, 'dns-view') }, 'f');
    assert.deepEqual(types.names, ['dns-view']);
    assert.equal(types.has('custom-ruleset'), false);
  });

  it('given boolean meta schemas, when parsed, then true takes any meta and false refuses every one', async () => {
    const types = await parseResourceTypes(
      { types: { open: { meta_schema: true }, closed: { meta_schema: false } } },
      'f',
    );
    assert.equal(types.metaProblem('open', { any: 1 }), undefined);
    assert.equal(types.metaProblem('closed', {})?.keyword, 'false schema');
  });

  it('given a declared entitlement, when parsed, then the type needs it and accounts may hold it', async () => {
    const types = await parseResourceTypes(withType({ entitlement: 'datasets' }), 'f');
    assert.equal(types.entitlementOf('acme-dataset'), 'datasets');
    assert.equal(types.isEntitlement('datasets'), true);
    assert.equal(types.isEntitlement('acme-dataset'), false);
  });

  const refused: [string, unknown, string][] = [
    [
      'a name with capitals',
      withType({}, 'Acme-Dataset'),
      'types.Acme-Dataset: type names are lowercase words joined by hyphens, at most 64 characters',
    ],
    [
      'a name with an underscore',
      withType({}, 'acme_dataset'),
      'types.acme_dataset: type names are lowercase words joined by hyphens, at most 64 characters',
    ],
    [
      'a built-in name',
      withType({}, 'custom-ruleset'),
      'types.custom-ruleset: is a built-in type (set builtin_types to false to declare it yourself)',
    ],
    [
      'a meta schema with a bad type',
      withType({ meta_schema: { type: 'objekt' } }),
      'types.acme-dataset.meta_schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
    ],
    [
      'a misspelt keyword',
      withType({ meta_schema: { type: 'object', requried: ['a'] } }),
      'types.acme-dataset.meta_schema: strict mode: unknown keyword: "requried"',
    ],
    [
      'an unresolvable $ref',
      withType({ meta_schema: { $ref: 'https://example.test/s.json' } }),
      "types.acme-dataset.meta_schema: can't resolve reference https://example.test/s.json from id #",
    ],
    [
      'a meta schema that is not a schema',
      withType({ meta_schema: 'object' }),
      'types.acme-dataset.meta_schema: must be a JSON Schema (an object or a boolean)',
    ],
    [
      'an unknown driver',
      withType({ driver: 'ftp' }),
      'types.acme-dataset.driver: must be one of inventory, webhook',
    ],
    [
      'a webhook without a secret',
      withType({ driver: 'webhook', url: 'https://h.test/' }),
      'types.acme-dataset.secret: expected string length greater or equal to 16',
    ],
    [
      'a webhook with a short secret',
      withType({ ...hook, secret: 'short' }),
      'types.acme-dataset.secret: expected string length greater or equal to 16',
    ],
    [
      'a webhook url that is not http',
      withType({ ...hook, url: 'ftp://h.test/' }),
      "types.acme-dataset.url: expected string to match '^https?://'",
    ],
    [
      'a url without the webhook driver',
      withType({ url: 'https://h.test/' }),
      'types.acme-dataset.url: only a webhook driver takes it',
    ],
    ['an unknown field', withType({ colour: 'red' }), 'types.acme-dataset.colour: unknown field'],
    [
      'a bad entitlement',
      withType({ entitlement: 'Data Sets' }),
      'types.acme-dataset.entitlement: entitlements are lowercase words joined by hyphens',
    ],
    [
      'no types at all',
      { builtin_types: false, types: {} },
      'types: declare at least one type when builtin_types is false',
    ],
    ['no types object', { builtin_types: true }, 'types: expected required property'],
    ['an unknown top-level field', { types: {}, builtins: true }, 'builtins: unknown field'],
  ];
  for (const [what, file, message] of refused) {
    it(`given ${what}, when parsed, then it is refused naming the place in the file`, async () => {
      await assert.rejects(parseResourceTypes(file, 'types.json'), {
        message: `resource types types.json: ${message}`,
      });
    });
  }
});

describe('bindResourceTypes', () => {
  type Bound = {
    properties: {
      resources: {
        items: { properties: { resource_type: { enum: string[] }; meta: Record<string, unknown> } };
      };
    };
  };
  const resourceOf = (schema: unknown) => (schema as Bound).properties.resources.items.properties;

  it('given only the built-in types, when a schema is bound, then it is the same object, unchanged', () => {
    assert.equal(bindResourceTypes(CreateShareBody, BUILTIN_RESOURCE_TYPES), CreateShareBody);
  });

  it('given declared types, when a schema is bound, then the enum and the meta carry them and the original is untouched', async () => {
    const bound = bindResourceTypes(CreateShareBody, await parseResourceTypes(EXAMPLE, 'f'));
    assert.deepEqual(resourceOf(bound).resource_type.enum, [
      ...RESOURCE_TYPES,
      'acme-dashboard',
      'acme-dataset',
    ]);
    assert.deepEqual(Object.keys(resourceOf(bound).meta[META_SCHEMAS_EXTENSION] as object), [
      'acme-dashboard',
      'acme-dataset',
    ]);
    assert.deepEqual(resourceOf(CreateShareBody).resource_type.enum, [...RESOURCE_TYPES]);
    assert.equal(resourceOf(CreateShareBody).meta[META_SCHEMAS_EXTENSION], undefined);
  });

  it('given servers started with the same file, when their schemas are bound, then they share one copy (one compiled validator), and another file gets its own', async () => {
    const first = bindResourceTypes(CreateShareBody, await parseResourceTypes(EXAMPLE, 'f'));
    const again = bindResourceTypes(CreateShareBody, await parseResourceTypes(structuredClone(EXAMPLE), 'f'));
    assert.equal(again, first);
    const other = bindResourceTypes(CreateShareBody, await parseResourceTypes(withType({}), 'f'));
    assert.notEqual(other, first);
    assert.deepEqual(resourceOf(other).resource_type.enum, [...RESOURCE_TYPES, 'acme-dataset']);
  });
});

describe('the platform-mode example in docs/platform.md', () => {
  it('given the example file of "rshare for your own platform", when parsed, then it declares two types, one delivered by webhook', async () => {
    const page = readFileSync(new URL('../docs/platform.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(page)?.[1];
    assert.ok(example, 'the section has a JSON example');
    const types = await parseResourceTypes(JSON.parse(example), 'README');
    const declared = types.definitions.filter((t) => !(RESOURCE_TYPES as readonly string[]).includes(t.name));
    assert.deepEqual(
      declared.map((t) => [t.name, t.driver?.driver, t.entitlement]),
      [
        ['acme-dashboard', 'inventory', 'dashboards'],
        ['acme-dataset', 'webhook', 'acme-dataset'],
      ],
    );
  });
});

describe('loadResourceTypesFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rshare-types-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('given a file that is not JSON, when loaded, then the error names the file', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{ "types": ');
    await assert.rejects(loadResourceTypesFile(path), {
      message: new RegExp(`^resource types ${path}: not valid JSON: `),
    });
  });

  it('given a missing file, when loaded, then the error names the file', async () => {
    const path = join(dir, 'missing.json');
    await assert.rejects(loadResourceTypesFile(path), {
      message: new RegExp(`^resource types ${path}: cannot read: ENOENT`),
    });
  });
});
