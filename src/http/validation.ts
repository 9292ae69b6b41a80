import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

// validateSchema: the schemas are TypeBox's output, checked by the contract tests; validating each one
// against the meta-schema first cost a test suite's first request more than compiling it.
const base: Options = {
  removeAdditional: true,
  useDefaults: true,
  allErrors: false,
  strict: false,
  validateSchema: false,
};

function build(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...base, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Query strings and path parameters arrive as text, so they are coerced (`per_page=5` → 5, a single
 * `tag=x` → `["x"]`); JSON bodies are not, so `{"name": 7}` is refused instead of becoming "7".
 */
/**
 * One pair of validators per process, shared by every app: compiled functions are pure and cached by
 * schema object, so a test suite starting many servers compiles each route's schemas once (building
 * Ajv's meta-schema and the validators again for each app was most of an in-process start).
 */
const shared = { text: build('array'), json: build(false) };

export function validatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const { text, json } = shared;
  return ({ schema, httpPart }) =>
    lazyValidator(() => (httpPart === 'body' ? json : text).compile(schema as object));
}

/**
 * Compiles on first use: most of a cold start went into compiling every route's schemas (each route is
 * served under two prefixes), which a test suite's short-lived server mostly never calls. Ajv caches by
 * schema object, so the second prefix reuses the first one's function. Fastify reads `errors` after a
 * failed call and passes the parent data when `schemaEnv` is set (so Ajv may coerce the root value).
 */
function lazyValidator(compile: () => ValidateFunction) {
  let fn: ValidateFunction | undefined;
  const validate = (data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    fn ??= compile();
    const ok = fn(data, context);
    validate.errors = fn.errors;
    return ok;
  };
  validate.errors = null as ValidateFunction['errors'];
  validate.schemaEnv = true;
  return validate;
}

/** RFC 6901 escaping of one pointer segment. */
export function pointerSegment(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * How deeply a request body may nest arrays and objects (the root is level 1). Real bodies nest a few
 * levels; without a limit a hostile one nests hundreds of thousands, and every recursive walk of it (the
 * NUL check, JSON.stringify in the stores, PostgreSQL's jsonb) overflows its stack: a 500 instead of a 400.
 */
export const MAX_BODY_DEPTH = 64;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route's own nesting limit for its body (default MAX_BODY_DEPTH). */
    bodyDepth?: number;
  }
}

type Path = (string | number)[];

/**
 * Walks the arrays and objects below `value` (at most `limit` levels) and the strings in them, keeping
 * the current path in one stack: the pointer is built only for what is found. Building a pointer string
 * for every element made a 1 MB body of small objects cost most of a second of CPU before any credential
 * was checked. `visit` sees each container and string (with its key, for object members).
 */
function walk(
  value: unknown,
  limit: number,
  visit: (value: unknown, key: string | undefined, depth: number) => boolean,
): Path | undefined {
  const path: Path = [];
  const go = (item: unknown, key: string | undefined, depth: number): boolean => {
    if (visit(item, key, depth)) return true;
    if (item === null || typeof item !== 'object' || depth >= limit) return false;
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        const child: unknown = item[i];
        if (typeof child !== 'string' && (child === null || typeof child !== 'object')) continue;
        path.push(i);
        if (go(child, undefined, depth + 1)) return true;
        path.pop();
      }
      return false;
    }
    for (const k in item) {
      if (!Object.hasOwn(item, k)) continue;
      path.push(k);
      if (go((item as Record<string, unknown>)[k], k, depth + 1)) return true;
      path.pop();
    }
    return false;
  };
  return go(value, undefined, 1) ? path : undefined;
}

function toPointer(base: string, path: Path): string {
  let pointer = base;
  for (const key of path) pointer += `/${typeof key === 'number' ? key : pointerSegment(key)}`;
  return pointer;
}

/** The pointer of the first array or object nested deeper than `limit` (the root is level 1). */
export function findTooDeep(value: unknown, limit: number): string | undefined {
  const found = walk(
    value,
    limit + 1,
    (item, _key, depth) => depth > limit && item !== null && typeof item === 'object',
  );
  return found && toPointer('', found);
}

/** Why `findBadText` refused a string. */
const NUL_TEXT = 'Text must not contain the NUL character (\\u0000)';
const LONE_SURROGATE_TEXT = 'Text is not valid Unicode (lone surrogate)';

// A high surrogate not followed by a low one, or a low one not preceded by a high one. Without the `u`
// flag the pattern sees UTF-16 code units, which is what a lone surrogate is (Node 20 has no
// String.prototype.isWellFormed).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return NUL_TEXT;
  if (LONE_SURROGATE.test(text)) return LONE_SURROGATE_TEXT;
  return undefined;
}

/**
 * The first string (key or value) neither store can keep as sent, with its pointer and what is wrong:
 * U+0000 (PostgreSQL cannot store it) or a lone surrogate, which a JSON body can carry as `"\udfff"` but
 * which is not Unicode (PostgreSQL's jsonb refuses it, SQLite would store invalid UTF-8). Checked for every
 * body, path and query parameter so both stores accept exactly the same input.
 */
export function findBadText(value: unknown, pointer = ''): { pointer: string; message: string } | undefined {
  let message: string | undefined;
  // Recursion is bounded: bodies passed the nesting check, and path, query and state documents are shallow.
  const found = walk(value, Number.POSITIVE_INFINITY, (item, key) => {
    message =
      (key === undefined ? undefined : textProblem(key)) ??
      (typeof item === 'string' ? textProblem(item) : undefined);
    return message !== undefined;
  });
  return found && message !== undefined ? { pointer: toPointer(pointer, found), message } : undefined;
}
