import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

let strict: Ajv | undefined;

/**
 * A validator for whole documents (bootstrap files, state documents): nothing coerced, removed or
 * defaulted, so an unknown field is an error rather than dropped. One Ajv for the process, built on first
 * use (the schemas are TypeBox's output, so they are not checked against the meta-schema each time).
 */
export function compileStrict(schema: object): ValidateFunction {
  if (!strict) {
    strict = new Ajv({ allErrors: false, strict: false, validateSchema: false });
    addFormats.default(strict);
  }
  return strict.compile(schema);
}
