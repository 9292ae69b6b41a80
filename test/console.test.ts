import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { FAVICON_SVG } from '../src/http/console/favicon.js';
import { CONSOLE_CSP, mountConsole } from '../src/http/console/plugin.js';
import { errorHandler } from '../src/http/error-handler.js';
import { NoRouteError } from '../src/http/errors.js';
import type { App } from '../src/http/types.js';
import { assertError, setup, type Harness } from './helpers.js';
import { startServer, type ServerProcess } from './support/process.js';
import { assertNoRoute } from './support/assert.js';

const NO_ROUTE = 'No route for the URI';

/** A bare app with the console mounted from `dir` and rshare's error envelope. */
async function consoleApp(dir: string): Promise<App> {
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } }) as unknown as App;
  app.setErrorHandler(errorHandler(1024));
  app.setNotFoundHandler(() => {
    throw new NoRouteError();
  });
  await mountConsole(app, dir);
  await app.ready();
  return app;
}

const parse = (body: string) => JSON.parse(body) as unknown;
const reply = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => ({
  status: res.statusCode,
  headers: res.headers,
  body: parse(res.body),
});

describe('the console routes', () => {
  let dir: string;
  let app: App;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rshare-console-dist-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'app-ABC123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'app-ABC123.css'), 'body{}');
    writeFileSync(join(dir, 'plugin.js'), 'server code, never served');
    app = await consoleApp(dir);
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('given a built console, when asking for /console and any deep link, then index.html, uncached, with a self-only CSP', async () => {
    for (const url of [
      '/console',
      '/console/',
      '/console/accounts/abc/shares/def',
      '/console/emulator?x=1',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.body, '<!doctype html><title>console</title>');
    }
    assert.match(CONSOLE_CSP, /default-src 'self'/);
    assert.match(CONSOLE_CSP, /script-src 'self'(;|$)/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe|\*/);
  });

  test('given hashed assets, when asking for them, then each with its type and a year of immutable caching', async () => {
    const js = await app.inject({ method: 'GET', url: '/console/assets/app-ABC123.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.body, 'console.log(1)');
    const css = await app.inject({ method: 'GET', url: '/console/assets/app-ABC123.css' });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });

  test('given the console mounted, when a browser asks for /favicon.ico or the linked /console/favicon.svg, then an SVG icon, cached for a day', async () => {
    for (const url of ['/favicon.ico', '/console/favicon.svg']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'image/svg+xml');
      assert.equal(res.headers['cache-control'], 'public, max-age=86400');
      assert.equal(res.body, FAVICON_SVG);
    }
    assert.match(FAVICON_SVG, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  test('given an unknown asset or a file outside assets, when asking, then the 404 envelope', async () => {
    for (const url of ['/console/assets/nope.js', '/console/assets/..%2Fplugin.js']) {
      assertNoRoute(reply(await app.inject({ method: 'GET', url })));
    }
  });

  test('given no build, when asking for /console, then 503 saying to run npm run build', async () => {
    const missing = await consoleApp(join(dir, 'not-built'));
    try {
      for (const url of ['/console', '/console/accounts/x', '/console/assets/app.js']) {
        assertError(
          reply(await missing.inject({ method: 'GET', url })),
          503,
          1503,
          'The web console is not built; run `npm run build`',
        );
      }
    } finally {
      await missing.close();
    }
  });
});

describe('buildApp console option', () => {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(() => h.close());

  test('given the console off (the in-process default), when asking for /console, then the usual 404 envelope', async () => {
    for (const url of ['/console', '/console/accounts/x', '/console/assets/app.js', '/favicon.ico']) {
      assertNoRoute(reply(await h.app.inject({ method: 'GET', url })));
    }
  });
});

describe('rshare serve --console', () => {
  const servers: ServerProcess[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  test('given the built command, when started with the console on (default), off, and as a worker, then /console answers, 404s, 404s', async () => {
    const on = await startServer({ database: ':memory:', entry: 'bin' });
    const off = await startServer({ database: ':memory:', entry: 'bin', serveArgs: ['--console', 'off'] });
    const worker = await startServer({ database: ':memory:', entry: 'bin', role: 'worker' });
    servers.push(on, off, worker);
    const page = await fetch(`${on.url}/console/accounts/x`);
    assert.equal(page.status, 200, await page.clone().text());
    assert.match(
      await page.text(),
      /<script type="module" src="\/console\/assets\/app-[\w-]+\.js"><\/script>/,
    );
    for (const s of [off, worker]) {
      const res = await fetch(`${s.url}/console`);
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), {
        success: false,
        errors: [{ code: 7003, message: NO_ROUTE }],
        messages: [],
        result: null,
      });
    }
  });
});
