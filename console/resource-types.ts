import { Validator, type Schema } from '@cfworker/json-schema';
import { useEffect, useState } from 'preact/hooks';
import { RESOURCE_TYPES } from '../src/lib/resource-types.js';
import { API_ROOT } from './api.js';

/** The server's resource types and the meta schema of each declared one, as its OpenAPI document lists them. */
export interface ResourceTypes {
  names: readonly string[];
  metaSchemas: Readonly<Record<string, Schema | boolean>>;
}

/** Until the document is read (or if it cannot be): Cloudflare's types, bundled, with no meta schema. */
const BUILT_IN: ResourceTypes = { names: RESOURCE_TYPES, metaSchemas: {} };

const RESOURCES_PATH = '/accounts/{account_id}/shares/{share_id}/resources';

interface Described {
  paths?: Record<
    string,
    Record<
      string,
      {
        requestBody?: {
          content?: Record<
            string,
            {
              schema?: {
                properties?: {
                  resource_type?: { enum?: string[] };
                  meta?: { 'x-rshare-meta-schemas'?: Record<string, Schema | boolean> };
                };
              };
            }
          >;
        };
      }
    >
  >;
}

let loading: Promise<ResourceTypes> | undefined;

/** Read once per page load: the document is public and the same for every signed-in user. */
function load(): Promise<ResourceTypes> {
  loading ??= fetch(`${API_ROOT}/openapi.json`)
    .then(async (res) => {
      if (!res.ok) return BUILT_IN;
      const doc = (await res.json()) as Described;
      const props =
        doc.paths?.[RESOURCES_PATH]?.post?.requestBody?.content?.['application/json']?.schema?.properties;
      const names = props?.resource_type?.enum;
      if (!names || names.length === 0) return BUILT_IN;
      return { names, metaSchemas: props.meta?.['x-rshare-meta-schemas'] ?? {} };
    })
    .catch(() => BUILT_IN);
  return loading;
}

/** The server's resource types, for pickers and meta editors (Cloudflare's until the document arrives). */
export function useResourceTypes(): ResourceTypes {
  const [types, setTypes] = useState<ResourceTypes>(BUILT_IN);
  useEffect(() => {
    let live = true;
    void load().then((t) => live && setTypes(t));
    return () => {
      live = false;
    };
  }, []);
  return types;
}

const validators = new Map<string, Validator>();

/**
 * What the type's schema refuses in `meta`, worded `<pointer>: <reason>`, before anything is sent (the
 * server checks again and has the last word). A validator without code generation: the console's CSP
 * allows no eval.
 */
export function metaSchemaProblem(types: ResourceTypes, type: string, meta: unknown): string | undefined {
  const schema = types.metaSchemas[type];
  if (schema === undefined) return undefined;
  let validator = validators.get(type);
  if (!validator) validators.set(type, (validator = new Validator(schema, '2020-12')));
  const result = validator.validate(meta);
  if (result.valid) return undefined;
  // The deepest error is the specific one; the others are the schemas around it failing with it.
  const deepest = result.errors.reduce((a, b) =>
    b.instanceLocation.length > a.instanceLocation.length ? b : a,
  );
  const where = deepest.instanceLocation.replace(/^#/, '') || '/';
  return `Meta ${where}: ${deepest.error}`;
}
