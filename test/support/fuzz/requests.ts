import fc from 'fast-check';
import { DEFAULT_BODY_LIMIT } from '../../../src/app.js';
import { TOKENS, USER } from '../../helpers.js';
import { HOSTILE_IDS, RAW_QUERY_JUNK, UTF16_CONTENT_TYPES, WRONG_CONTENT_TYPES } from './hostile.js';
import {
  addExtraFields,
  breakJson,
  breakUtf8,
  invalidate,
  serialize,
  type BodySchema,
  type Json,
} from './mutations.js';
import type { Method, Operation } from './operations.js';

/** One hostile request, and what makes it invalid. */
export interface FuzzRequest {
  operation: string;
  category: Category;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  note: string;
}

/** The kinds of invalid request, and the statuses each may be answered with. */
export const EXPECTED = {
  /** No, malformed, unknown, disabled, expired, out-of-scope or read-only credentials. */
  credentials: [400, 403, 404],
  /** A hostile id in one path parameter. */
  path: [400, 403, 404],
  /** One query parameter out of its type, range or enum. */
  query: [400],
  /** A body breaking one rule of the route's schema (types, required fields, limits, NUL, nesting, prototype keys). */
  body: [400],
  /** A valid shape the service refuses in the fixture's state. */
  refused: [400, 409],
  /** A body that is not JSON. */
  json: [400],
  /** A body that is not UTF-8. */
  utf8: [400],
  /** A body over the size limit. */
  huge: [413],
  /** A body that is not `application/json` (or not in the charset it claims). */
  'content-type': [400, 415],
  /** A method the path does not serve. */
  method: [404],
} as const satisfies Record<string, readonly number[]>;
export type Category = keyof typeof EXPECTED;

type Params = Record<string, string>;
type Headers = Record<string, string>;

const JSON_TYPE = { 'content-type': 'application/json' };

const USER_KEY: Headers = { 'x-auth-email': USER.email, 'x-auth-key': USER.key };

/** Credentials that may make the request: the owner's edit token, or the user's global key (both spelled loosely). */
function validCredentials(op: Operation): fc.Arbitrary<Headers> {
  const user = [USER_KEY, { 'x-auth-email': ` ${USER.email.toUpperCase()} `, 'x-auth-key': USER.key }];
  if (op.path.startsWith('/organizations/')) {
    return fc.constantFrom<Headers>(...user, { authorization: `Bearer ${TOKENS.org}` });
  }
  return fc.constantFrom<Headers>(
    { authorization: `Bearer ${TOKENS.owner}` },
    { authorization: `bearer   ${TOKENS.owner}  ` },
    ...user,
  );
}

/** Credentials that may not make this request; read-only ones only for writes. */
function badCredentials(write: boolean): fc.Arbitrary<Headers> {
  const always: Headers[] = [
    {},
    { authorization: '' },
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: 'Basic b3duZXI6cGFzc3dvcmQ=' },
    { authorization: `Bearer ${TOKENS.owner} extra` },
    { authorization: `Bearer ${TOKENS.owner}x` },
    { authorization: `Bearer ${TOKENS.owner.toUpperCase()}` },
    { authorization: "Bearer ' OR '1'='1" },
    { authorization: 'Bearer %00' },
    { authorization: `Bearer ${'a'.repeat(10_000)}` },
    { authorization: `Bearer ${TOKENS.disabled}` },
    { authorization: `Bearer ${TOKENS.expired}` },
    { authorization: `Bearer ${TOKENS.stranger}` },
    { authorization: `Bearer ${TOKENS.r1}` },
    { authorization: `Bearer ${TOKENS.loner}` },
    { authorization: `Bearer ${TOKENS.stranger}`, 'x-auth-email': USER.email, 'x-auth-key': USER.key },
    { 'x-auth-email': USER.email },
    { 'x-auth-key': USER.key },
    { 'x-auth-email': USER.email, 'x-auth-key': `${USER.key}x` },
    { 'x-auth-email': USER.email, 'x-auth-key': '' },
    { 'x-auth-email': "' OR 1=1--", 'x-auth-key': USER.key },
    { 'x-auth-email': '%', 'x-auth-key': USER.key },
    { 'x-auth-email': '', 'x-auth-key': '' },
  ];
  const readOnly: Headers[] = [
    { authorization: `Bearer ${TOKENS.ownerRead}` },
    { authorization: `Bearer ${TOKENS.org}` },
  ];
  return fc.constantFrom(...always, ...(write ? readOnly : []));
}

/** Query parameters nobody declares: dropped by validation, never a way in. */
const noiseQuery = fc.subarray([
  '__proto__=1',
  'constructor=prototype',
  `${encodeURIComponent("'; DROP TABLE shares;--")}=1`,
  'page%5B%5D=1',
  'hasOwnProperty=x',
  `x=${encodeURIComponent("' OR 1=1")}`,
]);

const prefix = fc.constantFrom('/client/v4', '');

function fillPath(template: string, params: Params, raw?: string): string {
  return template.replace(/\{(\w+)\}/g, (_m, name: string) =>
    name === raw ? (params[name] as string) : encodeURIComponent(params[name] as string),
  );
}

/**
 * Whether the URL still reaches the template's route once normalized as clients do (`..` removed,
 * `\` read as `/`, `?` and `#` ending the path): a raw id must not turn the request into another one.
 */
function keepsRoute(url: string, template: string, root: string): boolean {
  const got = new URL(url, 'http://localhost').pathname.split('/');
  const want = `${root}${template}`.split('/');
  return (
    got.length === want.length &&
    want.every((seg, i) => (seg.startsWith('{') ? got[i] !== '' : got[i] === seg))
  );
}

const withQuery = (path: string, parts: readonly string[]) =>
  parts.length > 0 ? `${path}?${parts.join('&')}` : path;

const queryPart = (name: string, value: string | string[]) =>
  (Array.isArray(value) ? value : [value]).map((v) => `${name}=${encodeURIComponent(v)}`);

function writes(method: Method) {
  return method !== 'GET';
}

/** A body the route takes, as text: a valid one, or for bodiless DELETEs any JSON object. */
const bodilessBodies = fc.constantFrom<Json>({}, { reason: 'cleanup' }, { force: true, ids: ['a', 'b'] });
const ANY: BodySchema = {};

function validBody(op: Operation): fc.Arbitrary<Json> {
  return op.body?.valid ?? bodilessBodies;
}

function request(
  op: Operation,
  category: Category,
  parts: { url: string; headers: Headers; payload?: string | Buffer; method?: string },
  note: string,
): FuzzRequest {
  return {
    operation: op.id,
    category,
    method: parts.method ?? op.method,
    url: parts.url,
    headers: parts.headers,
    ...(parts.payload === undefined ? {} : { payload: parts.payload }),
    note,
  };
}

/** The hostile requests of one operation, every category that applies to it, with weights. */
export function requestsFor(op: Operation, all: readonly Operation[]): fc.Arbitrary<FuzzRequest> {
  const hasBody = op.method !== 'GET';
  const arbitraries: { arbitrary: fc.Arbitrary<FuzzRequest>; weight: number }[] = [];
  const add = (weight: number, arbitrary: fc.Arbitrary<FuzzRequest>) =>
    arbitraries.push({ arbitrary, weight });
  /** GETs never carry a body (Fastify does not read one); writes carry a valid one unless told otherwise. */
  const validPayload = (body: Json | undefined): { headers: Headers; payload?: string } =>
    body === undefined || !op.body ? { headers: {} } : { headers: JSON_TYPE, payload: serialize(body) };
  const withPayload = (p: { payload?: string }) => (p.payload === undefined ? {} : { payload: p.payload });
  const bodyOrNone = op.body ? op.body.valid.map((b): Json | undefined => b) : fc.constant(undefined);

  add(
    3,
    fc
      .record({ params: op.params, creds: badCredentials(writes(op.method)), root: prefix, body: bodyOrNone })
      .map((r) => {
        const body = validPayload(r.body);
        return request(
          op,
          'credentials',
          {
            url: `${r.root}${fillPath(op.path, r.params)}`,
            headers: { ...r.creds, ...body.headers },
            ...withPayload(body),
          },
          `credentials ${JSON.stringify(r.creds).slice(0, 120)}`,
        );
      }),
  );

  add(
    4,
    fc
      .record({
        params: op.params,
        which: fc.nat(),
        id: fc.constantFrom(...HOSTILE_IDS),
        raw: fc.boolean(),
        root: prefix,
        creds: validCredentials(op),
        body: bodyOrNone,
      })
      .map((r) => {
        const names = Object.keys(r.params);
        const name = names[r.which % names.length] as string;
        const params = { ...r.params, [name]: r.id };
        const url = `${r.root}${fillPath(op.path, params, r.raw ? name : undefined)}`;
        return { r, url, name };
      })
      .filter(({ r, url }) => keepsRoute(url, op.path, r.root))
      .map(({ r, url, name }) => {
        const body = validPayload(r.body);
        return request(
          op,
          'path',
          { url, headers: { ...r.creds, ...body.headers }, ...withPayload(body) },
          `${name} = ${JSON.stringify(r.id).slice(0, 60)}${r.raw ? ' (raw)' : ''}`,
        );
      }),
  );

  const query = op.query;
  if (query) {
    const scalar = Object.keys(query).filter((k) => k !== 'tag');
    const bad = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.oneof(...Object.entries(query).map(([k, arb]) => arb.map((v) => queryPart(k, v)))),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...scalar), fc.constantFrom(...RAW_QUERY_JUNK))
          .map(([k, junk]) => [`${k}=${junk}`]),
      },
    );
    add(
      4,
      fc
        .record({ params: op.params, bad, noise: noiseQuery, root: prefix, creds: validCredentials(op) })
        .map((r) =>
          request(
            op,
            'query',
            {
              url: withQuery(`${r.root}${fillPath(op.path, r.params)}`, [...r.noise, ...r.bad]),
              headers: r.creds,
            },
            `query ${r.bad.join('&').slice(0, 120)}`,
          ),
        ),
    );
  }

  if (hasBody) {
    const schema = op.body?.schema ?? ANY;
    add(
      op.body ? 6 : 2,
      fc
        .record({
          params: op.params,
          body: validBody(op),
          extra: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
          picks: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
          root: prefix,
          creds: validCredentials(op),
        })
        .map((r) => {
          const noisy = r.extra ? addExtraFields(r.body, schema, r.extra) : r.body;
          const mutated = invalidate(noisy, schema, r.picks);
          return request(
            op,
            'body',
            {
              url: `${r.root}${fillPath(op.path, r.params)}`,
              headers: { ...r.creds, ...JSON_TYPE },
              payload: serialize(mutated.body),
            },
            mutated.note,
          );
        }),
    );

    const text = (r: { body: Json }) => serialize(r.body);
    const base = fc.record({
      params: op.params,
      body: validBody(op),
      picks: fc.tuple(fc.nat(), fc.nat()),
      root: prefix,
      creds: validCredentials(op),
    });
    const url = (r: { root: string; params: Params }) => `${r.root}${fillPath(op.path, r.params)}`;

    add(
      2,
      base.map((r) => {
        const broken = breakJson(text(r), r.picks);
        return request(
          op,
          'json',
          { url: url(r), headers: { ...r.creds, ...JSON_TYPE }, payload: broken.text },
          broken.note,
        );
      }),
    );
    add(
      2,
      base.map((r) => {
        const broken = breakUtf8(text(r), r.picks);
        return request(
          op,
          'utf8',
          { url: url(r), headers: { ...r.creds, ...JSON_TYPE }, payload: broken.payload },
          broken.note,
        );
      }),
    );
    add(
      1,
      base.map((r) => {
        const body = text(r);
        const size = DEFAULT_BODY_LIMIT + 1 + (r.picks[1] % 65_536);
        const pad = size - Buffer.byteLength(body);
        const inside = r.picks[0] % 2 === 0 && body.startsWith('{');
        const payload = inside
          ? `{"padding":"${'a'.repeat(pad - 13)}",${body.slice(1)}`
          : `${body}${' '.repeat(pad)}`;
        return request(
          op,
          'huge',
          { url: url(r), headers: { ...r.creds, ...JSON_TYPE }, payload },
          `${Buffer.byteLength(payload)} bytes (${inside ? 'a long string' : 'trailing spaces'})`,
        );
      }),
    );
    add(
      2,
      fc
        .record({ r: base, type: fc.constantFrom(...WRONG_CONTENT_TYPES, ...UTF16_CONTENT_TYPES) })
        .map(({ r, type }) => {
          const utf16 = type !== undefined && UTF16_CONTENT_TYPES.includes(type);
          const payload = utf16 ? Buffer.from(text(r), 'utf16le') : text(r);
          const headers = { ...r.creds, ...(type === undefined ? {} : { 'content-type': type }) };
          return request(
            op,
            'content-type',
            { url: url(r), headers, payload },
            `content-type ${JSON.stringify(type)}`,
          );
        }),
    );
  }

  if (op.refused) {
    add(
      3,
      fc
        .record({ refused: op.refused, params: op.params, root: prefix, creds: validCredentials(op) })
        .map((r) => {
          const params = r.refused.params ?? r.params;
          const path = withQuery(
            `${r.root}${fillPath(op.path, params)}`,
            r.refused.query ? [r.refused.query] : [],
          );
          const body: { headers: Headers; payload?: string } =
            r.refused.body === undefined
              ? { headers: {} }
              : { headers: JSON_TYPE, payload: serialize(r.refused.body) };
          return request(
            op,
            'refused',
            { url: path, headers: { ...r.creds, ...body.headers }, ...withPayload(body) },
            r.refused.note,
          );
        }),
    );
  }

  const served = new Set(all.filter((o) => o.path === op.path).map((o) => o.method as string));
  // HEAD is served wherever GET is; the others answer "No route".
  const others = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].filter((m) => !served.has(m));
  add(
    1,
    fc
      .record({
        params: op.params,
        method: fc.constantFrom(...others),
        root: prefix,
        creds: validCredentials(op),
      })
      .map((r) =>
        request(
          op,
          'method',
          { url: `${r.root}${fillPath(op.path, r.params)}`, headers: r.creds, method: r.method },
          `${r.method} is not served`,
        ),
      ),
  );
  return fc.oneof(...arbitraries);
}

/** Every operation equally often; within one, its categories by weight. */
export function hostileRequests(ops: readonly Operation[]): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(...ops.map((op) => requestsFor(op, ops)));
}
