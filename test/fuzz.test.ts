import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { seededIds } from '../src/lib/ids.js';
import { StateService } from '../src/emulator/state/service.js';
import { setup, type Harness } from './helpers.js';
import { createFixture, operations, type Fixture } from './support/fuzz/operations.js';
import { EXPECTED, hostileRequests, type Category, type FuzzRequest } from './support/fuzz/requests.js';
import { ROOT } from './support/process.js';
import { STORE_KIND } from './support/store.js';
import { nonEmpty } from './support/assert.js';

/**
 * A seeded fuzzer over the 21 contract operations: every request it builds is invalid (bad credentials,
 * hostile ids, bad query parameters, bodies breaking their schema, not JSON, not UTF-8, too large, of
 * another content type, refused by the service, or an unserved method), so every answer must be a 4xx
 * in the Cloudflare envelope, and the store must be exactly as it was. `RSHARE_FUZZ_SEED` and
 * `RSHARE_FUZZ_RUNS` change the seed and the number of requests (`npm run soak` runs 10,000); a failure
 * prints the seed and the shrunk request, which `RSHARE_FUZZ_PATH` replays directly.
 */

const SEED = Number(process.env.RSHARE_FUZZ_SEED ?? 20_260_101);
const RUNS = Number(process.env.RSHARE_FUZZ_RUNS ?? 2000);
const PATH = process.env.RSHARE_FUZZ_PATH;

const contractOperations = (): string[] => {
  const doc = JSON.parse(readFileSync(`${ROOT}contract/resource-sharing.openapi.json`, 'utf8')) as {
    paths: Record<string, Record<string, { operationId?: string }>>;
  };
  return Object.values(doc.paths)
    .flatMap((methods) => Object.values(methods).map((o) => o.operationId))
    .filter((id): id is string => id !== undefined)
    .sort();
};

/** What is wrong with an answer to a request built to be refused, if anything. */
function problemWith(req: FuzzRequest, res: LightMyRequestResponse): string | undefined {
  const allowed: readonly number[] = EXPECTED[req.category];
  if (!allowed.includes(res.statusCode)) {
    return `status ${res.statusCode}, expected one of ${allowed.join(', ')} for a ${req.category} request`;
  }
  if (!String(res.headers['content-type']).startsWith('application/json')) {
    return `content-type ${String(res.headers['content-type'])}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return 'the body is not JSON';
  }
  const b = body as Record<string, unknown>;
  const keys = Object.keys(b ?? {}).sort();
  if (keys.join() !== 'errors,messages,result,success') return `envelope keys ${keys.join()}`;
  if (b.success !== false || b.result !== null) return 'success must be false and result null';
  if (!Array.isArray(b.messages) || b.messages.length !== 0) return 'messages must be []';
  if (!Array.isArray(b.errors) || b.errors.length === 0) return 'errors must be a non-empty array';
  for (const e of b.errors as Record<string, unknown>[]) {
    const extra = Object.keys(e).filter((k) => !['code', 'message', 'source', 'error_chain'].includes(k));
    if (!Number.isInteger(e.code) || typeof e.message !== 'string' || e.message === '' || extra.length > 0) {
      return `error item ${JSON.stringify(e)}`;
    }
    // Cloudflare's causes of a header refusal: each a code and a message, nothing else.
    const chain = e.error_chain;
    if (
      chain !== undefined &&
      (!Array.isArray(chain) ||
        chain.length === 0 ||
        chain.some(
          (c: Record<string, unknown>) =>
            Object.keys(c).join() !== 'code,message' ||
            !Number.isInteger(c.code) ||
            typeof c.message !== 'string',
        ))
    ) {
      return `error chain ${JSON.stringify(chain)}`;
    }
    const source = e.source as Record<string, unknown> | undefined;
    if (
      source !== undefined &&
      (Object.keys(source).join() !== 'pointer' || typeof source.pointer !== 'string')
    ) {
      return `error source ${JSON.stringify(source)}`;
    }
  }
  return undefined;
}

const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s);

/** The request as a reader needs it to reproduce by hand: bytes that are not UTF-8 in base64. */
function describeRequest(req: FuzzRequest): string {
  const lines = [
    `${req.method} ${clip(req.url, 300)}   [${req.operation} / ${req.category}: ${clip(req.note, 200)}]`,
    ...Object.entries(req.headers).map(([k, v]) => `${k}: ${clip(v, 120)}`),
  ];
  if (Buffer.isBuffer(req.payload))
    lines.push(`body (base64, ${req.payload.length} bytes): ${clip(req.payload.toString('base64'))}`);
  else if (req.payload !== undefined)
    lines.push(`body (${Buffer.byteLength(req.payload)} bytes): ${clip(JSON.stringify(req.payload))}`);
  return lines.join('\n  ');
}

describe(`fuzz (${STORE_KIND}): hostile requests across the 21 contract operations`, () => {
  let h: Harness;
  let fixture: Fixture;
  let state: StateService;
  let baseline: string;

  /** The whole store: the state document, plus the derived counters it leaves out. */
  const snapshot = async () => {
    const doc = await state.exportState();
    const counters = await h.sql(
      'SELECT o.id, o.share_count, s.id AS share, s.org_seq FROM organizations o LEFT JOIN shares s ON s.organization_id = o.id ORDER BY o.id, s.id',
    );
    const visibility = await h.sql('SELECT * FROM share_visibility ORDER BY 1, 2, 3');
    return JSON.stringify({ doc, counters, visibility });
  };

  /**
   * Moves whenever the database is written: SQLite's count of changed rows on the store's connection;
   * PostgreSQL's next transaction id, which only writing transactions take (any database of the cluster).
   */
  const writeMark = async () => {
    const query =
      STORE_KIND === 'sqlite'
        ? 'SELECT total_changes() AS n'
        : 'SELECT txid_snapshot_xmax(txid_current_snapshot()) AS n';
    return String((await h.sql(query))[0]?.n);
  };

  before(async () => {
    // Fixed object ids (the fixture does not depend on the fuzz seed), so a reported URL replays as is.
    h = await setup({ app: { ids: seededIds(1) } });
    fixture = await createFixture(h);
    state = new StateService(h.store.state);
    baseline = await snapshot();
  });
  after(async () => h?.close());

  test(`given ${RUNS} hostile requests from seed ${SEED}, when each is sent with the owner's or broken credentials, then every answer is a 4xx in the Cloudflare envelope and the store is byte for byte unchanged`, async (t) => {
    const ops = operations(fixture);
    assert.deepEqual(
      ops.map((o) => o.id).sort(),
      contractOperations(),
      'the fuzzer covers exactly the contract operations',
    );
    const byOperation = new Map<string, number>();
    const byCategory = new Map<Category, number>();
    const statuses = new Map<number, number>();
    const count = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
    let lastProblem = '';

    const started = Date.now();
    let mark = await writeMark();
    const property = fc.asyncProperty(hostileRequests(ops), async (req) => {
      count(byOperation, req.operation);
      count(byCategory, req.category);
      const res = await h.app.inject({
        method: req.method as 'GET',
        url: req.url,
        headers: req.headers,
        ...(req.payload === undefined ? {} : { payload: req.payload }),
      });
      count(statuses, res.statusCode);
      let problem = problemWith(req, res);
      // Checking after every write names the request that changed the store; the whole snapshot only
      // when the database saw a write at all (reads cannot write).
      if (problem === undefined && req.method !== 'GET' && (await writeMark()) !== mark) {
        if ((await snapshot()) !== baseline) problem = 'the store changed';
        mark = await writeMark();
      }
      if (problem !== undefined) {
        lastProblem = `${problem}\n  answer ${res.statusCode}: ${clip(res.body)}`;
        // Put the store back, so shrinking compares each smaller request against the same fixture.
        await state.importState(JSON.parse(baseline).doc);
        return false;
      }
      return true;
    });
    const result = await fc.check(property, { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) });
    const elapsed = Date.now() - started;
    if (result.failed) {
      const [req] = result.counterexample ?? [];
      assert.fail(
        [
          `fuzz failure after ${result.numRuns} requests (${STORE_KIND}), seed ${result.seed}, path ${result.counterexamplePath}`,
          `reproduce: RSHARE_FUZZ_SEED=${result.seed} RSHARE_FUZZ_PATH=${result.counterexamplePath} node --import tsx --test test/fuzz.test.ts`,
          `request (shrunk ${result.numShrinks} times):\n  ${req ? describeRequest(req) : '(none)'}`,
          `problem: ${lastProblem || String(result.errorInstance)}`,
        ].join('\n'),
      );
    }
    assert.equal(await snapshot(), baseline, 'the store after the run is the store before it');
    for (const id of nonEmpty(contractOperations(), 'contract operations'))
      assert.ok((byOperation.get(id) ?? 0) > 0, `no request for ${id}`);
    const list = <K>(m: Map<K, number>) => [...m].map(([k, n]) => `${String(k)} ${n}`).join(', ');
    t.diagnostic(`${RUNS} requests on ${STORE_KIND} in ${elapsed} ms (seed ${SEED})`);
    t.diagnostic(`categories: ${list(byCategory)}`);
    t.diagnostic(`statuses: ${list(new Map([...statuses].sort((a, b) => a[0] - b[0])))}`);
  });
});
