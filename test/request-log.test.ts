import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp } from '../src/app.js';
import type { App } from '../src/http/types.js';
import { base, OWNER, TOKENS } from './helpers.js';
import { openTestStore, type TestStore } from './support/store.js';

/** The JSON lines a pino logger wrote, parsed. */
function capture(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
      }
      done();
    },
  });
  return { stream, lines };
}

describe('request log', () => {
  let db: TestStore;
  let app: App;
  const { stream, lines } = capture();
  before(async () => {
    db = await openTestStore();
    app = await buildApp({ store: db.store, logger: pino({ level: 'info' }, stream) });
  });
  after(async () => {
    await app.close();
    await db.close();
  });

  test('given a request, when it completes, then one line names method, url, status and time, and no secret', async () => {
    lines.length = 0;
    const res = await app.inject({
      method: 'GET',
      url: `${base(OWNER)}?per_page=5`,
      headers: { authorization: `Bearer ${TOKENS.owner}`, 'x-request-id': 'log-test-1' },
    });
    assert.equal(res.statusCode, 400);
    const mine = lines.filter((l) => l.reqId === 'log-test-1');
    assert.equal(mine.length, 1, JSON.stringify(lines));
    const [line] = mine as [Record<string, unknown>];
    assert.equal(line.msg, 'request completed');
    assert.equal(line.method, 'GET');
    assert.equal(line.url, `${base(OWNER)}?per_page=5`);
    assert.equal(line.statusCode, 400);
    assert.equal(typeof line.responseTime, 'number');
    assert.ok(!JSON.stringify(lines).includes(TOKENS.owner), 'the token never reaches the log');
    assert.ok(!lines.some((l) => l.msg === 'incoming request'));
  });
});
