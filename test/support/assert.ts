import assert from 'node:assert/strict';
import { assertError, type Reply } from '../helpers.js';

/**
 * `items` as an array, after asserting there is at least one: a loop that holds assertions over an empty
 * list passes without checking anything, so every such loop over computed items goes through this.
 */
export function nonEmpty<T>(items: Iterable<T>, what: string): T[] {
  const all = [...items];
  assert.ok(all.length > 0, `no ${what}: the assertions over them would check nothing`);
  return all;
}

/** Asserts a Cloudflare-style success envelope with `status` and no errors or messages. */
export function assertSuccess(res: Reply, status = 200): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.success, true);
  assert.deepEqual(res.body.errors, []);
  assert.deepEqual(res.body.messages, []);
}

/** Asserts the 409 1409 of a write that conflicts with the share's state, which a client must not retry. */
export function assertConflict(res: Reply, message: string | RegExp): void {
  assertError(res, 409, 1409, message);
  assert.equal(res.headers['x-should-retry'], 'false');
}

/** Asserts a list's `result_info`: page `page` of `pages`, `count` of `total` items, `perPage` a page. */
export function assertPageInfo(
  res: Pick<Reply, 'body'>,
  page: number,
  perPage: number,
  count: number,
  total: number,
  pages: number,
): void {
  assert.deepEqual(res.body.result_info, {
    page,
    per_page: perPage,
    count,
    total_count: total,
    total_pages: pages,
  });
}

/** Asserts the `result_info` of a list that fits on its first page: `count` items of `perPage` (default 20). */
export function assertOnePage(res: Pick<Reply, 'body'>, count: number, perPage = 20): void {
  assertPageInfo(res, 1, perPage, count, count, 1);
}

/** Asserts the 404 7003 rshare answers for a path no route serves (as Cloudflare does). */
export function assertNoRoute(res: Reply): void {
  assertError(res, 404, 7003, 'No route for the URI');
}
