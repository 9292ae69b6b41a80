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
 * The pointer of the first string (key or value) holding U+0000, which PostgreSQL cannot store; checked
 * for every body so both stores accept exactly the same input.
 */
export function findNul(value: unknown, pointer = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? pointer : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findNul(item, `${pointer}/${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const at = `${pointer}/${pointerSegment(key)}`;
      if (key.includes('\u0000')) return at;
      const found = findNul(item, at);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
