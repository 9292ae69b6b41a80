import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** The project's own copy of the wire contract (`contract/`); `RSHARE_CONTRACT` points elsewhere. */
export const CONTRACT_URL = process.env.RSHARE_CONTRACT
  ? pathToFileURL(process.env.RSHARE_CONTRACT)
  : new URL('../../contract/resource-sharing.openapi.json', import.meta.url);

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

interface ResponseSpec {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string } }>;
}
interface OperationSpec {
  operationId: string;
  responses: Record<string, ResponseSpec>;
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Partial<Record<HttpMethod, OperationSpec>>>;
  components: { schemas: Record<string, unknown> };
}

export interface Operation {
  method: Uppercase<HttpMethod>;
  /** The contract's path template, e.g. `/accounts/{account_id}/shares`. */
  path: string;
  operationId: string;
  responses: Record<string, ResponseSpec>;
}

export const FAILURE_SCHEMA = '#/components/schemas/resource-sharing_api-response-common-failure';

// ajv-formats is CommonJS; under NodeNext its default import is the module object on some toolchains.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/**
 * Validates response bodies with Ajv 8 against an OpenAPI document: the contract (whose responses are
 * `$ref`s to component schemas), or the document rshare serves (whose response schemas are inline).
 */
export class Contract {
  readonly doc: OpenApiDocument;
  readonly operations: Operation[];
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(doc: OpenApiDocument) {
    this.doc = doc;
    // strict: false because the document carries OpenAPI keywords (`example`, `x-auditable`, ...);
    // Ajv understands OpenAPI's `nullable` natively.
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema(doc as object, 'contract');
    this.operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      HTTP_METHODS.flatMap((m) => {
        const op = item[m];
        return op
          ? [
              {
                method: m.toUpperCase() as Uppercase<HttpMethod>,
                path,
                operationId: op.operationId,
                responses: op.responses,
              },
            ]
          : [];
      }),
    );
  }

  static load(url: URL = CONTRACT_URL): Contract {
    if (!existsSync(url)) {
      throw new Error(
        `The contract ${fileURLToPath(url)} is missing: restore contract/ from the repository or set RSHARE_CONTRACT`,
      );
    }
    return new Contract(JSON.parse(readFileSync(url, 'utf8')) as OpenApiDocument);
  }

  operation(operationId: string): Operation {
    const op = this.operations.find((o) => o.operationId === operationId);
    assert.ok(op, `operation ${operationId} is not in the contract`);
    return op;
  }

  /** The operation the document declares at (method, path template), e.g. `GET /accounts/{account_id}/shares`. */
  at(method: string, path: string): Operation {
    const op = this.operations.find((o) => o.method === method.toUpperCase() && o.path === path);
    assert.ok(op, `${method} ${path} is not in the document`);
    return op;
  }

  /** The response the operation declares for `status`: exact code first, then `4XX`/`5XX`, then `default`. */
  response(operationId: string, status: number): ResponseSpec {
    return this.declared(this.operation(operationId), status)[1];
  }

  private declared(op: Operation, status: number): [key: string, spec: ResponseSpec] {
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => op.responses[k]);
    assert.ok(key, `${op.operationId} declares no response for ${status}`);
    return [key, op.responses[key] as ResponseSpec];
  }

  /** The `$ref` of the JSON schema declared for (operation, status), or undefined for a body-less response. */
  schemaRef(operationId: string, status: number): string | undefined {
    const schema = this.response(operationId, status).content?.['application/json']?.schema;
    if (!schema) return undefined;
    assert.ok(schema.$ref, `${operationId} ${status}: expected a $ref schema`);
    return schema.$ref;
  }

  validator(ref: string): ValidateFunction {
    let fn = this.compiled.get(ref);
    if (!fn) {
      fn = this.ajv.getSchema(`contract${ref}`);
      assert.ok(fn, `no schema ${ref} in the document`);
      this.compiled.set(ref, fn);
    }
    return fn;
  }

  /** Asserts `body` conforms to `ref` (a `#/components/schemas/...` pointer), naming every violation. */
  assertSchema(ref: string, body: unknown, context = ref): void {
    const validate = this.validator(ref);
    if (!validate(body)) {
      assert.fail(
        `${context}: body does not match ${ref}:\n${this.ajv.errorsText(validate.errors, { separator: '\n' })}\n` +
          JSON.stringify(body, null, 2),
      );
    }
  }

  /** The one 2xx status the operation declares (201 for creates, 204 for replaces, else 200). */
  successStatus(operationId: string): number {
    const codes = Object.keys(this.operation(operationId).responses).filter((k) => /^2\d\d$/.test(k));
    assert.equal(codes.length, 1, `${operationId} declares ${codes.length} success statuses`);
    return Number(codes[0]);
  }

  /**
   * Asserts a response conforms to what the operation declares for its status code: the declared JSON
   * schema, or an empty body when the contract declares no content (204). `body` is the parsed JSON,
   * undefined when the raw body was empty (as `call()` in test/helpers.ts returns it).
   */
  assertResponse(operationId: string, res: { status: number; body: unknown }): void {
    this.assertOperationResponse(this.operation(operationId), res);
  }

  /** As `assertResponse`, for the operation at (method, path template): documents may name it differently. */
  assertRouteResponse(method: string, path: string, res: { status: number; body: unknown }): void {
    this.assertOperationResponse(this.at(method, path), res);
  }

  private assertOperationResponse(op: Operation, res: { status: number; body: unknown }): void {
    const context = `${op.method} ${op.path} (${op.operationId}) ${res.status}`;
    const [key, spec] = this.declared(op, res.status);
    const schema = spec.content?.['application/json']?.schema;
    if (!schema) {
      assert.equal(res.body, undefined, `${context}: the document declares no body`);
      return;
    }
    assert.notEqual(res.body, undefined, `${context}: expected a JSON body`);
    // A component `$ref` as the contract has it, else a pointer to the inline schema.
    const ref =
      schema.$ref ??
      pointer(
        'paths',
        op.path,
        op.method.toLowerCase(),
        'responses',
        key,
        'content',
        'application/json',
        'schema',
      );
    this.assertSchema(ref, res.body, context);
  }
}

/** A JSON pointer fragment (`#/a/b~1c`), each segment escaped and URI-encoded for Ajv's lookup. */
function pointer(...segments: string[]): string {
  return `#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
}

/**
 * The (METHOD, path) pairs Fastify serves, read from `app.printRoutes({ commonPrefix: false })`, whose
 * tree lines look like `│   └── /:share_id (GET, HEAD, PUT, DELETE)` (four columns per level).
 */
export function servedRoutes(printed: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^(.*?)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...(m[1] as string)].length / 4;
    const path = (depth > 0 ? (stack[depth - 1] ?? '') : '') + (m[2] as string);
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of m[3]?.split(', ') ?? []) out.add(`${method} ${path}`);
  }
  return out;
}

/** `/accounts/{account_id}/shares` → `/accounts/:account_id/shares` (Fastify's syntax). */
export const toFastifyPath = (path: string): string => path.replace(/\{([^}]+)\}/g, ':$1');
