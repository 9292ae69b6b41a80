import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

const base: Options = { removeAdditional: true, useDefaults: true, allErrors: false, strict: false };

function build(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...base, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Query strings and path parameters arrive as text, so they are coerced (`per_page=5` → 5, a single
 * `tag=x` → `["x"]`); JSON bodies are not, so `{"name": 7}` is refused instead of becoming "7".
 */
export function validatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const text = build('array');
  const json = build(false);
  return ({ schema, httpPart }) => (httpPart === 'body' ? json : text).compile(schema as object);
}
