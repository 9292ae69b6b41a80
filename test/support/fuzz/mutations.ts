import {
  BAD_ENUM_VALUES,
  BLANKS,
  EXTRA_KEYS,
  INVALID_UTF8,
  LONG_UNITS,
  NOT_JSON,
  WRONG_TYPE_VALUES,
} from './hostile.js';

/**
 * Turns a valid request body into an invalid one, driven by the route's own JSON schema (the TypeBox
 * schemas the routes validate with), so every mutation breaks a rule the server enforces. Choices come
 * in as plain numbers from fast-check, so a failure shrinks and replays from its seed.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The subset of JSON Schema the request bodies use. */
export interface BodySchema {
  type?: string;
  properties?: Record<string, BodySchema>;
  required?: readonly string[];
  items?: BodySchema;
  patternProperties?: Record<string, BodySchema>;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  enum?: readonly string[];
  pattern?: string;
}

type Path = readonly (string | number)[];

/** A node of a body with the schema that applies to it (undefined inside free-form `meta`). */
interface Site {
  path: Path;
  schema: BodySchema | undefined;
  value: Json;
}

/** Nesting the server refuses: deeper than its limit, up to what fits in a request. */
const DEPTHS = [65, 100, 1_000, 10_000, 100_000];

/** Stands for a deeply nested value until the body is serialized (JSON.stringify would overflow). */
const DEEP_MARK = '\u0001fuzz-deep:';

function sitesOf(value: Json, schema: BodySchema | undefined, path: Path = []): Site[] {
  const out: Site[] = [{ path, schema, value }];
  if (Array.isArray(value)) {
    value.forEach((item, i) => out.push(...sitesOf(item, schema?.items, [...path, i])));
  } else if (value !== null && typeof value === 'object') {
    const anyKey = schema?.patternProperties ? Object.values(schema.patternProperties)[0] : undefined;
    for (const [key, item] of Object.entries(value)) {
      out.push(...sitesOf(item, schema?.properties?.[key] ?? anyKey, [...path, key]));
    }
  }
  return out;
}

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v;

const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

function setAt(root: Json, path: Path, value: Json): Json {
  if (path.length === 0) return value;
  const copy = clone(root);
  let node = copy as Record<string | number, Json>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, Json>;
  node[path[path.length - 1] as string | number] = value;
  return copy;
}

/** An own property, even `__proto__` (an assignment would set the prototype instead). */
function withKey(obj: Record<string, Json>, key: string, value: Json): Record<string, Json> {
  const out: Record<string, Json> = {};
  const define = (k: string, v: Json) =>
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(obj)) if (k !== key) define(k, v);
  define(key, value);
  return out;
}

type Mutation = { kind: string; apply(site: Site, n: number): Json };

/** The mutations that make a site invalid, for what its schema declares. */
function mutationsFor(site: Site): Mutation[] {
  const { schema, value } = site;
  const out: Mutation[] = [];
  if (schema?.type) {
    const expected = schema.type === 'integer' ? 'number' : schema.type;
    const others = WRONG_TYPE_VALUES.filter((v) => typeOf(v) !== expected) as Json[];
    out.push({ kind: 'wrong-type', apply: (_s, n) => others[n % others.length] as Json });
  }
  if (typeof value === 'string') {
    if (schema?.maxLength !== undefined) {
      const max = schema.maxLength;
      out.push({
        kind: 'too-long',
        apply: (_s, n) => (LONG_UNITS[n % LONG_UNITS.length] as string).repeat(max + 1 + (n % 40)),
      });
    }
    if (schema?.minLength) out.push({ kind: 'empty', apply: () => '' });
    if (schema?.pattern === '\\S')
      out.push({ kind: 'blank', apply: (_s, n) => BLANKS[n % BLANKS.length] as string });
    if (schema?.enum) {
      const allowed = schema.enum;
      const bad = BAD_ENUM_VALUES.filter((v) => !allowed.includes(v));
      out.push({ kind: 'not-in-enum', apply: (_s, n) => bad[n % bad.length] as string });
    }
    out.push({
      kind: 'nul',
      apply: (_s, n) => {
        const at = n % (value.length + 1);
        return `${value.slice(0, at)}\u0000${value.slice(at)}`;
      },
    });
  }
  if (Array.isArray(value) && schema?.maxItems !== undefined) {
    const max = schema.maxItems;
    out.push({
      kind: 'too-many-items',
      apply: (_s, n) =>
        Array.from({ length: max + 1 + (n % 3) }, (_, i) => clone(value[i % value.length] ?? {})),
    });
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const missing = (schema?.required ?? []).filter((k) => k in value);
    if (missing.length > 0) {
      out.push({
        kind: 'missing-field',
        apply: (_s, n) => {
          const drop = missing[n % missing.length] as string;
          return Object.fromEntries(Object.entries(value).filter(([k]) => k !== drop)) as Json;
        },
      });
    }
    if (schema?.maxProperties !== undefined) {
      const max = schema.maxProperties;
      out.push({
        kind: 'too-many-properties',
        apply: (_s, n) =>
          Object.fromEntries(Array.from({ length: max + 1 + (n % 5) }, (_, i) => [`key${i}`, 'v'])) as Json,
      });
    }
    const keys = Object.keys(value);
    if (keys.length > 0) {
      out.push({
        kind: 'nul-in-key',
        apply: (_s, n) => {
          const key = keys[n % keys.length] as string;
          const entries = Object.entries(value).map(([k, v]) => [k === key ? `${k}\u0000` : k, v]);
          return Object.fromEntries(entries) as Json;
        },
      });
    }
    out.push({
      kind: '__proto__',
      apply: (_s, n) => withKey(value, '__proto__', n % 2 ? { polluted: true } : {}),
    });
    out.push({
      kind: 'constructor.prototype',
      apply: () => withKey(value, 'constructor', { prototype: { polluted: true } }),
    });
  }
  out.push({ kind: 'too-deep', apply: (_s, n) => `${DEEP_MARK}${DEPTHS[n % DEPTHS.length]}:${n % 2}` });
  return out;
}

export interface MutatedBody {
  body: Json;
  /** What was done where, for the failure report. */
  note: string;
}

/** Breaks one rule of `schema` somewhere in `body`; `picks` choose the site, the mutation and its value. */
export function invalidate(body: Json, schema: BodySchema, picks: [number, number, number]): MutatedBody {
  const sites = sitesOf(body, schema);
  const site = sites[picks[0] % sites.length] as Site;
  const options = mutationsFor(site);
  const mutation = options[picks[1] % options.length] as Mutation;
  return {
    body: setAt(body, site.path, mutation.apply(site, picks[2])),
    note: `${mutation.kind} at /${site.path.join('/')}`,
  };
}

/** Adds fields no schema declares (ignored by validation) to one object of the body, if it has one. */
export function addExtraFields(body: Json, schema: BodySchema, picks: [number, number]): Json {
  const objects = sitesOf(body, schema).filter(
    (s) =>
      s.schema?.properties !== undefined &&
      s.value !== null &&
      typeof s.value === 'object' &&
      !Array.isArray(s.value),
  );
  if (objects.length === 0) return body;
  const site = objects[picks[0] % objects.length] as Site;
  const declared = Object.keys(site.schema?.properties ?? {});
  const keys = EXTRA_KEYS.filter((k) => !declared.includes(k));
  const key = keys[picks[1] % keys.length] as string;
  const extra =
    picks[1] % 3 === 0 ? { nested: [1, 'two', null] } : picks[1] % 3 === 1 ? "'; DROP TABLE x;--" : 7;
  return setAt(body, site.path, withKey(site.value as Record<string, Json>, key, extra));
}

function nested(depth: number, objects: boolean): string {
  return objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

/** JSON text of a body, with deep-nesting marks expanded. */
export function serialize(body: Json): string {
  const text = JSON.stringify(body);
  return text.replace(/"\\u0001fuzz-deep:(\d+):(\d)"/g, (_m, depth: string, kind: string) =>
    nested(Number(depth), kind === '1'),
  );
}

/** Makes JSON text unparseable: replaced by, prefixed with or followed by a non-JSON text, or cut short. */
export function breakJson(text: string, picks: [number, number]): { text: string; note: string } {
  const junk = NOT_JSON[picks[1] % NOT_JSON.length] as string;
  switch (picks[0] % 4) {
    case 0:
      return { text: junk, note: `not JSON: ${JSON.stringify(junk)}` };
    case 1:
      return { text: `${text}${junk}`, note: `followed by ${JSON.stringify(junk)}` };
    case 2:
      return { text: `${junk}${text}`, note: `preceded by ${JSON.stringify(junk)}` };
    default: {
      const cut = 1 + (picks[1] % Math.max(1, text.length - 1));
      return { text: text.slice(0, cut), note: `cut after ${cut} of ${text.length} characters` };
    }
  }
}

/** Puts bytes that are not UTF-8 into the text, inside a string when it has one. */
export function breakUtf8(text: string, picks: [number, number]): { payload: Buffer; note: string } {
  const bytes = INVALID_UTF8[picks[1] % INVALID_UTF8.length] as readonly number[];
  const quotes = [...text.matchAll(/"/g)].map((m) => (m.index ?? 0) + 1);
  const at = quotes.length > 0 ? (quotes[picks[0] % quotes.length] as number) : picks[0] % (text.length + 1);
  const payload = Buffer.concat([
    Buffer.from(text.slice(0, at), 'utf8'),
    Buffer.from(bytes),
    Buffer.from(text.slice(at), 'utf8'),
  ]);
  return { payload, note: `bytes ${bytes.map((b) => b.toString(16)).join(' ')} at character ${at}` };
}
