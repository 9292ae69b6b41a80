/**
 * The web console with declared resource types, in a real headless Chromium against the built server
 * (`npm run build`): its pickers and meta editor read the server's types and meta schemas from the served
 * OpenAPI document. Store-independent (the console only calls the public API), so it runs on SQLite.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { hexId } from './helpers.js';
import { chromiumSkip, launchChromium } from './support/chromium.js';
import { startServer, type ServerProcess } from './support/process.js';
import { ACME_DASHBOARD } from './support/resource-types.js';

const SETTLE_MS = 15_000;
const ORG = hexId(21, 'a');
const OWNER = hexId(21, 'b');
const PEER = hexId(22, 'b');
const TOKEN = 'console-types-owner-token-01';

const bootstrap = {
  organizations: [{ id: ORG, name: 'Acme' }],
  accounts: [
    { id: OWNER, name: 'Acme Owner', organization_id: ORG },
    { id: PEER, name: 'Acme Peer', organization_id: ORG },
  ],
  tokens: [{ value: TOKEN, name: 'owner', accounts: [OWNER, PEER], permissions: ['read', 'edit'] }],
};

const resourceTypes = {
  builtin_types: false,
  types: {
    'acme-dashboard': ACME_DASHBOARD,
    'acme-flag': { meta_schema: { type: 'object' } },
  },
};

const skip = chromiumSkip('the console resource types test');

describe('the web console with declared resource types, in Chromium', { skip }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rshare-console-types-'));
    writeFileSync(join(dir, 'bootstrap.json'), JSON.stringify(bootstrap));
    writeFileSync(join(dir, 'types.json'), JSON.stringify(resourceTypes));
    server = await startServer({
      database: ':memory:',
      entry: 'bin',
      bootstrap: join(dir, 'bootstrap.json'),
      serveArgs: ['--resource-types', join(dir, 'types.json')],
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('given a declared type with a meta schema, when creating a share of it, then the picker lists only the declared types, a refused meta is shown and not sent, and a valid one is shared', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const posts: string[] = [];
    page.on('request', (req) => {
      if (req.method() === 'POST') posts.push(new URL(req.url()).pathname);
    });
    await page.goto(`${server.url}/console`);
    await page.getByLabel('API token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Acme Owner' }).click();
    await page.getByRole('link', { name: 'New share' }).click();

    const picker = page.getByLabel('Resource type');
    await picker.locator('option', { hasText: 'acme-flag' }).waitFor({ state: 'attached' });
    assert.deepEqual(await picker.locator('option').allInnerTexts(), ['acme-dashboard', 'acme-flag']);

    await page.getByLabel('Share name').fill('Dashboards');
    await page.getByLabel('Recipient account ids (one per line)').fill(PEER);
    await picker.selectOption('acme-dashboard');
    await page.getByLabel('Resource id').fill('board-1');
    const meta = page.getByLabel('Resource 1 meta (JSON object)');
    await meta.fill('{"region": "mars"}');
    const problem = page.getByText('Meta /region: Instance does not match any of ["eu","us"].');
    await problem.waitFor();
    assert.equal(await meta.getAttribute('aria-invalid'), 'true');
    await meta.fill('{}');
    await page.getByText('Meta /: Instance does not have required property "region".').waitFor();
    await page.getByRole('button', { name: 'Create share' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.equal(
      await refusal.innerText(),
      'Resource 1: Meta /: Instance does not have required property "region".',
    );
    assert.deepEqual(
      posts.filter((p) => p.endsWith('/shares')),
      [],
      'a meta the schema refuses is never sent',
    );

    await meta.fill('{"region": "eu"}');
    assert.equal(await meta.getAttribute('aria-invalid'), 'false');
    await page.getByRole('button', { name: 'Create share' }).click();
    await page.getByRole('heading', { name: 'Dashboards' }).waitFor();
    assert.deepEqual(
      posts.filter((p) => p.endsWith('/shares')),
      [`/client/v4/accounts/${OWNER}/shares`],
    );
    await page
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: PEER }) })
      .getByTestId('matrix-cell')
      .filter({ hasText: 'associated v1' })
      .waitFor({ timeout: SETTLE_MS });
    await page.getByRole('cell', { name: 'acme-dashboard' }).waitFor();
    await context.close();
  });
});
