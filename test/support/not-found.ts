import type { App } from '../../src/http/types.js';
import { assertError, call } from '../helpers.js';
import { nonEmpty } from './assert.js';

/** A call on one id of a share's sub-collection: the method and, for a write, a body that would pass. */
export interface IdCall {
  method: 'GET' | 'PUT' | 'DELETE';
  body?: unknown;
}

/**
 * Asserts 404 1404 `message` for every call on every id. An id the share does not hold (unknown, or another
 * share's) must answer exactly as an id that does not exist, whatever the method.
 */
export async function assertIdsNotFound(
  app: App,
  url: (id: string) => string,
  ids: string[],
  calls: IdCall[],
  message: string,
): Promise<void> {
  for (const id of nonEmpty(ids, 'ids')) {
    for (const c of nonEmpty(calls, 'calls')) {
      assertError(await call(app, c.method, url(id), { body: c.body }), 404, 1404, message);
    }
  }
}
