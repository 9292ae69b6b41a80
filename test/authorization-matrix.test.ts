import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertError, setup, type Harness } from './helpers.js';
import {
  addOtherUser,
  CALLERS,
  CHAINS,
  hasBody,
  isObjectRoute,
  isWrite,
  makeTarget,
  MESSAGES,
  parseMatrix,
  partsOf,
  requestFor,
  send,
  takesBody,
  unknownTarget,
  type Expected,
  type MatrixRow,
  type Target,
} from './support/authorization-matrix.js';
import { Contract, servedRoutes, toFastifyPath } from './support/contract.js';
import { nonEmpty } from './support/assert.js';

const matrix = parseMatrix(readFileSync(new URL('../docs/authorization.md', import.meta.url), 'utf8'));

let h: Harness;
/** The objects every read names; changes get fresh ones (`makeTarget`), so nothing here is consumed. */
let fixture: Target;

before(async () => {
  h = await setup();
  await addOtherUser(h);
  fixture = await makeTarget(h);
});
after(async () => {
  await h.close();
});

const cellText = (e: Expected) => (e.code === undefined ? String(e.status) : `${e.status} ${e.code}`);
const ok = (e: Expected) => e.status < 300;

/** The row's request to the fixture, or to fresh objects when it changes something. */
const targetFor = async (row: MatrixRow): Promise<Target> =>
  isWrite(row) ? makeTarget(h, partsOf(row)) : fixture;

describe('the authorization matrix in docs/authorization.md', () => {
  test("given the contract, when comparing its operations with the table's rows, then each has exactly one row with its method and path", () => {
    const contract = Contract.load();
    assert.equal(contract.operations.length, 21);
    for (const op of contract.operations) {
      const rows = matrix.rows.filter((r) => r.operationId === op.operationId);
      assert.equal(rows.length, 1, `${op.operationId}: rows in the matrix`);
      assert.equal(`${rows[0]?.method} ${rows[0]?.path}`, `${op.method} ${op.path}`, op.operationId);
    }
  });

  test('given the routes the app serves, when comparing them with the rows, then every API route has one row and every row is served', () => {
    const served = [...servedRoutes(h.app.printRoutes({ commonPrefix: false }))]
      // The OpenAPI document is public, as /healthz is (test/openapi.test.ts): no caller decides its answer.
      .filter((r) => !r.startsWith('HEAD ') && r.includes(' /client/v4/') && !r.endsWith('/openapi.json'))
      .sort();
    const rows = matrix.rows.map((r) => `${r.method} /client/v4${toFastifyPath(r.path)}`).sort();
    assert.deepEqual(rows, served);
    assert.equal(new Set(matrix.rows.map((r) => r.operationId)).size, matrix.rows.length);
  });

  test('given the callers the issue lists, when reading the header, then there is one column for each, in order', () => {
    assert.deepEqual(matrix.columns, Object.keys(CALLERS));
    assert.equal(matrix.columns.length, 12);
  });

  test('given every row that takes a body, when building its request, then a valid body is defined for it', () => {
    for (const row of nonEmpty(matrix.rows, 'matrix rows'))
      assert.equal(hasBody(row.operationId), takesBody(row), row.operationId);
  });
});

for (const row of matrix.rows) {
  describe(`${row.operationId}: ${row.method} ${row.path}`, () => {
    for (const column of matrix.columns) {
      const expected = row.cells.get(column) as Expected;
      test(`given the ${column} caller, when calling it, then ${cellText(expected)}`, async () => {
        const caller = CALLERS[column];
        assert.ok(caller, `no caller for column ${column}`);
        for (const headers of caller.variants) {
          const res = await send(h, requestFor(row, caller.account, await targetFor(row)), headers);
          const label = `${column} ${JSON.stringify(headers)}: ${res.body}`;
          assert.equal(res.status, expected.status, label);
          if (expected.code === undefined) {
            if (res.status === 204) assert.equal(res.body, '', label);
            else assert.equal(JSON.parse(res.body).success, true, label);
            continue;
          }
          const message = MESSAGES[expected.code];
          assert.ok(message, `no message known for code ${expected.code}`);
          const body = JSON.parse(res.body) as unknown;
          assertError(
            { status: res.status, headers: { 'content-type': res.type }, body },
            expected.status,
            expected.code,
            message,
          );
          const chain = (body as { errors: { error_chain?: unknown }[] }).errors[0]?.error_chain;
          assert.deepEqual(chain, CHAINS[expected.code], label);
        }
      });
    }
  });
}

describe("no answer reveals whether another tenant's object exists", () => {
  for (const column of ['stranger', 'recipient']) {
    const caller = CALLERS[column];
    assert.ok(caller);
    const accounts = [caller.account, ...(caller.home ? [caller.home] : [])];
    for (const row of nonEmpty(matrix.rows.filter(isObjectRoute), 'object routes in the matrix')) {
      // A recipient legitimately sees what it received; only what it may not see must look unknown.
      if (column === 'recipient' && ok(row.cells.get(column) as Expected)) continue;
      test(`given the ${column} caller, when calling ${row.operationId} on the owner's objects and on ids that name nothing, then the answers are byte-identical`, async () => {
        for (const account of accounts) {
          for (const headers of caller.variants) {
            const existing = await send(h, requestFor(row, account, await targetFor(row)), headers);
            const unknown = await send(h, requestFor(row, account, unknownTarget()), headers);
            assert.deepEqual(existing, unknown, `${account} in the path`);
            assert.ok(existing.status >= 400, `${account} in the path: ${existing.body}`);
          }
        }
      });
    }
  }
});
