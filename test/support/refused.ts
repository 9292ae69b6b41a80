import type { App } from '../../src/http/types.js';
import { assertError, call } from '../helpers.js';
import { nonEmpty } from './assert.js';

/** A query string a list refuses, the message it answers with, and the parameter it points at. */
export type RefusedQuery = [query: string, message: string, pointer: string];

/** Asserts 400 1400 with the case's message and pointer for a GET of `url(query)`, for every case. */
export async function assertQueriesRefused(
  app: App,
  url: (query: string) => string,
  cases: RefusedQuery[],
): Promise<void> {
  for (const [query, message, pointer] of nonEmpty(cases, 'refused queries')) {
    assertError(await call(app, 'GET', url(query)), 400, 1400, message, pointer);
  }
}

/** A body a write refuses, the message it answers with, and the field it points at. */
export type RefusedBody = [body: unknown, message: string, pointer: string];

/** Asserts 400 1400 with the case's message and pointer for `method` of `url` with each case's body. */
export async function assertBodiesRefused(
  app: App,
  method: 'POST' | 'PUT',
  url: string,
  cases: RefusedBody[],
): Promise<void> {
  for (const [body, message, pointer] of nonEmpty(cases, 'refused bodies')) {
    assertError(await call(app, method, url, { body }), 400, 1400, message, pointer);
  }
}
