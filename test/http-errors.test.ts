import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp } from '../src/app.js';
import { DEFAULT_TIMEOUTS, resolveLimits } from '../src/http/limits.js';
import { timeoutOption, timeoutsFrom } from '../src/http/timeout-options.js';
import { base, seedShareBody, setup, TOKENS, type Harness } from './helpers.js';
import { assertRawError, exchange, RawConnection } from './support/raw-http.js';
import { startServer as startProcess, waitFor } from './support/process.js';
import { startServer } from '../src/server.js';

/** Small limits and short timeouts, so every refusal is cheap to provoke and quick to happen. */
const LIMITS = {
  bodyLimit: 1024,
  urlLimit: 2048,
  headerLimit: 4096,
  timeouts: { headersMs: 1000, requestMs: 2000, keepAliveMs: 1000 },
};
const AUTH = `Authorization: Bearer ${TOKENS.owner}\r\n`;
const JSON_TYPE = 'Content-Type: application/json\r\n';

/** A request head: request line, Host, then `headers` (each ending in CRLF), then the blank line. */
const head = (line: string, headers = '') => `${line}\r\nHost: 127.0.0.1\r\n${headers}\r\n`;

/** Parsed pino lines, to check how client errors are logged. */
function capture(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n'))
        if (text.trim() !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

describe('HTTP-level errors, on a listening server', () => {
  let h: Harness;
  let port: number;
  const log = capture();
  before(async () => {
    h = await setup({ app: { ...LIMITS, logger: pino({ level: 'debug' }, log.stream) } });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    port = (h.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await h.close();
  });

  test('given headers over the header limit, then 431 code 1431 and the connection closes', async () => {
    const res = await exchange(port, head('GET /healthz HTTP/1.1', `X-Big: ${'a'.repeat(5000)}\r\n`));
    assertRawError(res, 431, 1431, 'Request line and headers are larger than 4096 bytes');
    assert.equal(res.headers.connection, 'close');
    assert.match(res.headers['x-request-id'] ?? '', /^[\w-]{36}$/);
    assert.equal(res.after, '', 'the response is complete and alone: nothing after its Content-Length');
  });

  test('given a URL over the URL limit, then 414 code 1414, also when a path segment is over the router limit', async () => {
    const query = await exchange(port, head(`GET ${base()}?name=${'a'.repeat(2100)} HTTP/1.1`, AUTH));
    assertRawError(query, 414, 1414, 'URL is longer than 2048 bytes');
    assert.match(query.headers['x-request-id'] ?? '', /^[\w-]{36}$/);
    const segment = await exchange(port, head(`GET ${base()}/${'a'.repeat(2100)} HTTP/1.1`, AUTH));
    assertRawError(segment, 414, 1414, 'URL is longer than 2048 bytes');
  });

  test('given a URL at the limit, then it is routed as usual', async () => {
    const url = `${base()}?per_page=5&x=`;
    const res = await exchange(port, head(`GET ${url}${'a'.repeat(2048 - url.length)} HTTP/1.1`, AUTH));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
  });

  const malformed: [string, string, string][] = [
    ['an unknown method', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 'Malformed request line: unknown method'],
    ['a line that is not a request line', 'GARBAGE\r\n\r\n', 'Malformed request line: unknown method'],
    [
      'a control character in the URL',
      'GET /a\x01b HTTP/1.1\r\n\r\n',
      'Malformed request line: invalid character in the URL',
    ],
    ['a space in the URL', 'GET /a b HTTP/1.1\r\n\r\n', 'Malformed request line: expected HTTP/1.1'],
    ['an unknown HTTP version', 'GET / HTTP/9.9\r\n\r\n', 'Malformed request line: invalid HTTP version'],
    [
      'HTTP/2 without TLS',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      'HTTP/2 without TLS is not supported; use HTTP/1.1',
    ],
  ];
  for (const [what, request, message] of malformed) {
    test(`given ${what}, then 400 code 1400 "${message}" and the connection closes`, async () => {
      const res = await exchange(port, request);
      assertRawError(res, 400, 1400, message);
      assert.equal(res.headers.connection, 'close');
      assert.equal(res.after, '');
    });
  }

  const badHeaders: [string, string, string][] = [
    [
      'a space in a header name',
      'Bad Header: y\r\n',
      'Malformed header: invalid character in a header name or value',
    ],
    [
      'a control character in a header value',
      'X-A: a\x01b\r\n',
      'Malformed header: invalid character in a header name or value',
    ],
    [
      'a folded header line',
      'X-A: a\r\n b\r\n',
      'Malformed header: invalid character in a header name or value',
    ],
    ['a Content-Length that is not a number', 'Content-Length: abc\r\n', 'Invalid Content-Length header'],
    [
      'two different Content-Lengths',
      'Content-Length: 2\r\nContent-Length: 3\r\n',
      'Invalid Content-Length header',
    ],
    [
      'Content-Length with chunked',
      'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n',
      'Invalid Transfer-Encoding header: only chunked, never with Content-Length',
    ],
    [
      'a Transfer-Encoding other than chunked',
      'Transfer-Encoding: gzip\r\n',
      'Invalid Transfer-Encoding header: only chunked, never with Content-Length',
    ],
  ];
  for (const [what, header, message] of badHeaders) {
    test(`given ${what}, then 400 code 1400 "${message}"`, async () => {
      const res = await exchange(
        port,
        head(`POST ${base()} HTTP/1.1`, `${AUTH}${JSON_TYPE}${header}`) + '{}',
      );
      assertRawError(res, 400, 1400, message);
      assert.equal(res.headers.connection, 'close');
      assert.equal(res.after, '');
    });
  }

  test('given a malformed chunk size, then 400 code 1400 "Malformed chunked body"', async () => {
    const headers = `${AUTH}${JSON_TYPE}Transfer-Encoding: chunked\r\n`;
    const res = await exchange(port, head(`POST ${base()} HTTP/1.1`, headers) + 'zz\r\n{}\r\n0\r\n\r\n');
    assertRawError(res, 400, 1400, 'Malformed chunked body');
  });

  test('given an HTTP/1.1 request without Host, then 400 code 1400 in the envelope (not Node’s empty 400)', async () => {
    const res = await exchange(port, 'GET /healthz HTTP/1.1\r\n\r\n');
    assertRawError(res, 400, 1400, 'Missing Host header (required in HTTP/1.1)');
    assert.match(res.headers['x-request-id'] ?? '', /^[\w-]{36}$/);
  });

  test('given an HTTP/1.0 request without Host, then it is answered as usual and the connection closes', async () => {
    const res = await exchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
    assert.equal(res.headers.connection, 'close');
  });

  test('given an Expect header other than 100-continue, then 417 code 1417 in the envelope', async () => {
    const res = await exchange(
      port,
      head(`POST ${base()} HTTP/1.1`, `${AUTH}${JSON_TYPE}Expect: teapot\r\nContent-Length: 2\r\n`),
    );
    assertRawError(res, 417, 1417, 'Unsupported Expect header; only 100-continue is supported');
  });

  test('given Expect: 100-continue, then 100 Continue and the request is served', async () => {
    const body = JSON.stringify(seedShareBody());
    const conn = await RawConnection.open(port);
    try {
      const headers = `${AUTH}${JSON_TYPE}Expect: 100-continue\r\nContent-Length: ${body.length}\r\n`;
      conn.write(head(`POST ${base()} HTTP/1.1`, headers) + body);
      const res = await conn.reply();
      assert.deepEqual(conn.interim, [100]);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.result.name, seedShareBody().name);
    } finally {
      conn.destroy();
    }
  });

  test('given a CONNECT request, then 404 code 7003 in the envelope instead of a silent close', async () => {
    const res = await exchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assertRawError(res, 404, 7003, 'No route for the URI');
    assert.equal(res.headers.connection, 'close');
  });

  test('given a Content-Length over the body limit and no body sent, then 413 code 1413 at once and the connection closes', async () => {
    const res = await exchange(
      port,
      head(`POST ${base()} HTTP/1.1`, `${AUTH}${JSON_TYPE}Content-Length: 5000\r\n`),
    );
    assertRawError(res, 413, 1413, 'Request body is larger than 1024 bytes');
    assert.equal(res.headers.connection, 'close');
  });

  test('given a route that takes no body and a Content-Length over the limit, then 413 code 1413', async () => {
    const res = await exchange(
      port,
      head(`GET ${base()} HTTP/1.1`, `${AUTH}Content-Length: 5000\r\n`) + 'x'.repeat(5000),
    );
    assertRawError(res, 413, 1413, 'Request body is larger than 1024 bytes');
    assert.equal(res.headers.connection, 'close');
  });

  test('given a chunked body over the limit, then 413 code 1413 and the connection closes', async () => {
    const headers = `${AUTH}${JSON_TYPE}Transfer-Encoding: chunked\r\n`;
    const chunk = `{"name":"${'x'.repeat(2000)}"}`;
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const res = await exchange(port, head(`POST ${base()} HTTP/1.1`, headers) + body);
    assertRawError(res, 413, 1413, 'Request body is larger than 1024 bytes');
    assert.equal(res.headers.connection, 'close');
  });

  test('given a body trickled past the request timeout, then 408 code 1408 and the connection closes', async () => {
    const conn = await RawConnection.open(port);
    try {
      conn.write(head(`POST ${base()} HTTP/1.1`, `${AUTH}${JSON_TYPE}Content-Length: 200\r\n`));
      void conn.trickle(`{"name":"${'x'.repeat(190)}"}`, 100);
      const res = await conn.reply();
      assertRawError(res, 408, 1408, 'Request not received in full within 2000 ms');
      assert.equal(res.headers.connection, 'close');
      assert.equal(await conn.whenClosed(), '');
    } finally {
      conn.destroy();
    }
  });

  test('given slow-loris clients trickling headers, then other clients are served and the slow ones are cut off with 408', async () => {
    const slow = await Promise.all(Array.from({ length: 5 }, () => RawConnection.open(port)));
    try {
      for (const conn of slow)
        void conn.trickle(
          `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(100)}\r\n\r\n`,
          100,
        );
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`http://127.0.0.1:${port}${base()}`, {
          headers: { authorization: `Bearer ${TOKENS.owner}` },
        });
        assert.equal(res.status, 200);
        assert.equal(((await res.json()) as { success: boolean }).success, true);
      }
      for (const conn of slow) {
        assertRawError(await conn.reply(), 408, 1408, 'Request headers not received within 1000 ms');
        assert.equal(await conn.whenClosed(), '');
      }
    } finally {
      for (const conn of slow) conn.destroy();
    }
  });

  test('given a connection that never sends a byte, then it is closed by the headers timeout without an answer', async () => {
    const conn = await RawConnection.open(port);
    try {
      assert.equal(await conn.whenClosed(), '');
    } finally {
      conn.destroy();
    }
  });

  test('given an answered request on a kept-alive connection, when it stays idle, then the server closes it', async () => {
    const conn = await RawConnection.open(port);
    try {
      conn.write(head('GET /healthz HTTP/1.1'));
      const res = await conn.reply();
      assert.equal(res.status, 200);
      assert.equal(res.headers.connection, 'keep-alive');
      assert.equal(res.headers['keep-alive'], 'timeout=1');
      assert.equal(await conn.whenClosed(), '');
    } finally {
      conn.destroy();
    }
  });

  test('given a client that disconnects in the middle of a body, then the next request is served', async () => {
    let serverSide: Socket | undefined;
    h.app.server.once('connection', (s: Socket) => (serverSide = s));
    const conn = await RawConnection.open(port);
    const sent = head(`POST ${base()} HTTP/1.1`, `${AUTH}${JSON_TYPE}Content-Length: 100\r\n`) + '{"name":';
    conn.write(sent);
    await waitFor('the server to read the partial body', () =>
      (serverSide?.bytesRead ?? 0) >= sent.length ? true : undefined,
    );
    conn.destroy();
    const res = await exchange(port, head('GET /healthz HTTP/1.1', 'Connection: close\r\n'));
    assert.equal(res.status, 200);
  });

  test('given any of the above, then nothing is logged as a server error and no raw packet is logged', () => {
    assert.deepEqual(
      log.lines.filter((l) => Number(l.level) >= 50),
      [],
    );
    const clientErrors = log.lines.filter((l) => l.msg === 'client error');
    assert.ok(clientErrors.length > 0);
    assert.ok(!JSON.stringify(clientErrors).includes(TOKENS.owner));
  });
});

describe('a request caught by shutdown', () => {
  test('given a request arriving on an open connection while the server closes, then it is answered, not a bare 503', async () => {
    const h = await setup();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (h.app.server.address() as AddressInfo).port;
    let serverSide: Socket | undefined;
    h.app.server.once('connection', (s: Socket) => (serverSide = s));
    const conn = await RawConnection.open(port);
    let closing: Promise<void> | undefined;
    try {
      const partial = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n';
      conn.write(partial);
      // The server has read the partial request, so its connection is busy, not idle, when closing starts.
      await waitFor('the server to read the partial request', () =>
        (serverSide?.bytesRead ?? 0) >= partial.length ? true : undefined,
      );
      closing = h.close();
      conn.write('\r\n');
      const res = await conn.reply();
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: 'ok' });
      assert.equal(res.headers.connection, 'close');
    } finally {
      conn.destroy();
      await closing;
    }
  });
});

describe('server limits options', () => {
  test('given no options, then the defaults are 10 s for headers, 30 s per request, 5 s of keep-alive, 16 KiB URLs, 32 KiB headers', () => {
    assert.deepEqual(resolveLimits({}), {
      urlLimit: 16384,
      headerLimit: 32768,
      timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 },
    });
  });

  test('given a headers timeout longer than the request timeout, when the app is built, then it is refused', async () => {
    const h = await setup();
    try {
      await assert.rejects(
        buildApp({ store: h.store, timeouts: { headersMs: 5000, requestMs: 1000 } }),
        /headers timeout \(5000 ms\) must not be longer than the request timeout \(1000 ms\)/,
      );
      await assert.rejects(
        buildApp({ store: h.store, urlLimit: 0 }),
        /URL limit must be an integer of at least 1/,
      );
    } finally {
      await h.close();
    }
  });

  test('given the CLI flags or their environment variables, then they become the server timeouts', () => {
    const flags = {
      headersTimeoutMs: timeoutOption('headers').parseArg?.('2500', DEFAULT_TIMEOUTS.headersMs) as number,
      requestTimeoutMs: timeoutOption('request').parseArg?.('0', DEFAULT_TIMEOUTS.requestMs) as number,
      keepAliveTimeoutMs: timeoutOption('keep-alive').parseArg?.(
        '65000',
        DEFAULT_TIMEOUTS.keepAliveMs,
      ) as number,
    };
    assert.deepEqual(timeoutsFrom(flags), { headersMs: 2500, requestMs: 0, keepAliveMs: 65000 });
    assert.equal(timeoutOption('keep-alive').envVar, 'RSHARE_KEEP_ALIVE_TIMEOUT_MS');
    assert.equal(timeoutOption('headers').long, '--headers-timeout-ms');
    assert.equal(timeoutOption('request').defaultValue, 30_000);
    assert.throws(() => timeoutOption('request').parseArg?.('1.5', 0), /expected milliseconds/);
  });

  test('given a headers timeout longer than the request timeout, when a server starts, then it is refused before anything opens', async () => {
    const options = { host: '127.0.0.1', port: 0, database: ':memory:', demo: false, logLevel: 'silent' };
    await assert.rejects(
      startServer({ ...options, timeouts: { headersMs: 5000, requestMs: 1000 } }, pino({ level: 'silent' })),
      /headers timeout \(5000 ms\) must not be longer than the request timeout \(1000 ms\)/,
    );
  });
});

describe('rshare serve with timeout flags', () => {
  test('given --headers-timeout-ms and --keep-alive-timeout-ms, then a slow client is cut off by them and keep-alive announces them', async () => {
    const server = await startProcess({
      database: ':memory:',
      serveArgs: [
        '--headers-timeout-ms',
        '500',
        '--request-timeout-ms',
        '1000',
        '--keep-alive-timeout-ms',
        '2000',
      ],
    });
    const conn = await RawConnection.open(server.port);
    try {
      const ok = await exchange(server.port, head('GET /healthz HTTP/1.1'));
      assert.equal(ok.headers['keep-alive'], 'timeout=2');
      void conn.trickle(
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(100)}\r\n\r\n`,
        100,
      );
      assertRawError(await conn.reply(), 408, 1408, 'Request headers not received within 500 ms');
    } finally {
      conn.destroy();
      await server.stop();
    }
  });
});
