import assert from 'node:assert/strict';
import type { ServerProcess } from './process.js';

/** The Cloudflare envelope as the tests read it from a running server. */
export interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string; source?: { pointer: string } }[];
  result: T;
  result_info?: { page: number; per_page: number; count: number; total_count: number };
}

/** One JSON call to `/client/v4` + `path` on a running server as `token`, bounded by `timeoutMs`. */
export async function serverCall<T>(
  server: ServerProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 15_000,
): Promise<{ status: number; headers: Headers; body: Envelope<T> }> {
  const res = await fetch(`${server.url}/client/v4${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Envelope<T> };
}

/** `serverCall` that must succeed: 201 for a POST, 200 otherwise, and `success: true`. */
export async function serverOk<T>(
  server: ServerProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs?: number,
): Promise<Envelope<T>> {
  const res = await serverCall<T>(server, token, method, path, body, timeoutMs);
  assert.equal(res.status, method === 'POST' ? 201 : 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.success, true);
  return res.body;
}
