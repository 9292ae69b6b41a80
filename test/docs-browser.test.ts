import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumSkip, launchChromium } from './support/chromium.js';
import { ROOT, startServer, type ServerProcess } from './support/process.js';

const TIMEOUT_MS = 30_000;
const SCREENSHOT = join(ROOT, 'test-artifacts', 'docs.png');

const skip = chromiumSkip('the docs page test');

interface Seen {
  url: string;
  status?: number;
  failure?: string;
}

describe('the docs page in a browser', { skip }, () => {
  let server: ServerProcess;
  let browser: Browser;

  before(async () => {
    // The package bin, as `npm start` runs it: the docs plugins stay outside its bundle (npm run build).
    server = await startServer({
      database: ':memory:',
      entry: 'bin',
      serveArgs: ['--admin-token', 'docs-admin'],
    });
    browser = await launchChromium(TIMEOUT_MS);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('given /docs, when Chromium opens it, then every request it makes goes to this server and succeeds, and it renders every operation of the document', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    const seen: Seen[] = [];
    const errors: string[] = [];
    page.on('requestfinished', (req) => {
      void req.response().then((res) => seen.push({ url: req.url(), status: res?.status() }));
    });
    page.on('requestfailed', (req) => seen.push({ url: req.url(), failure: req.failure()?.errorText }));
    // A blocked asset (content security policy) or a script error shows here.
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));

    const res = await page.goto(`${server.url}/docs`, { waitUntil: 'networkidle', timeout: TIMEOUT_MS });
    assert.equal(res?.status(), 200, 'the page (run npm run build if dist/ predates src/http/openapi)');
    await page.getByText('List account shares', { exact: true }).first().waitFor();

    const doc = (await (await fetch(`${server.url}/client/v4/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
    };
    const ops = Object.values(doc.paths).flatMap((item) =>
      Object.entries(item).filter(([key]) => key !== 'servers' && key !== 'parameters'),
    );
    const sharing = ops.filter(([, op]) => op.tags?.includes('Resource Sharing')).length;
    assert.equal(sharing, 21);
    assert.equal(await page.locator('.opblock-tag-section .opblock').count(), ops.length);
    assert.equal(await page.locator('.opblock-tag[data-tag="Resource Sharing"]').count(), 1);
    assert.equal(
      await page
        .locator('.opblock-tag-section', { has: page.locator('.opblock-tag[data-tag="Resource Sharing"]') })
        .locator('.opblock')
        .count(),
      21,
    );

    await page.waitForLoadState('networkidle');
    const network = seen.filter((r) => !r.url.startsWith('data:'));
    const paths = network.map((r) => new URL(r.url).pathname);
    for (const wanted of [
      '/docs',
      '/docs/static/swagger-ui-bundle.js',
      '/docs/static/swagger-ui.css',
      '/docs/json',
    ]) {
      assert.ok(paths.includes(wanted), `${wanted} was requested: ${paths.join(', ')}`);
    }
    for (const r of network) {
      assert.equal(new URL(r.url).origin, server.url, `${r.url} goes to this server`);
      assert.equal(r.failure, undefined, `${r.url} failed: ${r.failure}`);
      assert.ok(r.status !== undefined && r.status < 400, `${r.url} answered ${r.status}`);
    }
    assert.deepEqual(errors, []);

    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: TIMEOUT_MS });
    assert.ok(existsSync(SCREENSHOT));
  });
});
