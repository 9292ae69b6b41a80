import { validationError } from '../../http/error-handler.js';
import { ValidationError } from '../../http/errors.js';
import type { ResourceTypeRegistry } from './registry.js';

/**
 * Refuses a `meta` its type's declared schema refuses: 400 1400 with the schema's first error, worded as
 * every other validation error, its pointer under `pointer` (`/resources/0/meta`, `/meta`). Types without
 * a schema (the built-in ones) take any object, as before.
 */
export function checkMeta(types: ResourceTypeRegistry, type: string, meta: unknown, pointer: string): void {
  const problem = types.metaProblem(type, meta);
  if (!problem) return;
  const refused = validationError([problem], 'body');
  const at = refused.source?.pointer ?? '';
  // A problem at the meta's root (a `required` is reported at its parent) is named after the meta.
  const message =
    problem.instancePath === '' && problem.keyword !== 'required'
      ? refused.message.replace(/^body\b/, 'meta')
      : refused.message;
  throw new ValidationError(message, pointer + at);
}
