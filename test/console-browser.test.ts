/**
 * The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against the
 * built server (`npm run build`): every step a user takes, each one screenshotted to
 * test-artifacts/console/ (ignored by git). Store-independent (the console only calls the public API),
 * so it runs once, on SQLite.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { hexId } from './helpers.js';
import { chromiumSkip, launchChromium } from './support/chromium.js';
import { ROOT, startServer, type ServerProcess } from './support/process.js';

const ARTIFACTS = join(ROOT, 'test-artifacts/console');
const MAX_JS_BYTES = 200 * 1024;
/** Bounded waits for what the reconciler does in the background (auto mode, 50 ms polls). */
const SETTLE_MS = 15_000;

const ORG = hexId(1, 'a');
const OTHER_ORG = hexId(2, 'a');
const OWNER = hexId(1, 'b');
const R1 = hexId(2, 'b');
const R2 = hexId(3, 'b');
const STRANGER = hexId(5, 'b');
const STRANGER_2 = hexId(6, 'b');
const TOKEN = {
  owner: 'console-owner-token-0001',
  reader: 'console-read-only-token-02',
  stranger: 'console-stranger-token-03',
  accounts: 'console-three-accounts-token-06',
};
const ADMIN = 'console-admin-token-0004';
const USER = { email: 'owner@acme.test', key: 'console-global-api-key-05' };
const RESOURCE = '023e105f4ecef8ad9ca31a8372d0c353';
const ENTITLEMENT_ERROR = 'Recipient is missing necessary entitlement';

const bootstrap = {
  organizations: [
    { id: ORG, name: 'Acme' },
    { id: OTHER_ORG, name: 'Other' },
  ],
  accounts: [
    { id: OWNER, name: 'Acme Owner', organization_id: ORG },
    { id: R1, name: 'Acme R1', organization_id: ORG },
    // Entitled to gateway policies only: a custom ruleset can never be delivered (a terminal error).
    { id: R2, name: 'Acme R2', organization_id: ORG, entitlements: ['gateway-policy'] },
    { id: STRANGER, name: 'Stranger', organization_id: OTHER_ORG },
    { id: STRANGER_2, name: 'Stranger Two', organization_id: OTHER_ORG },
  ],
  users: [{ email: USER.email, api_key: USER.key, accounts: [OWNER], organizations: [] }],
  tokens: [
    { value: TOKEN.owner, name: 'owner', accounts: [OWNER], permissions: ['read', 'edit'] },
    { value: TOKEN.reader, name: 'reader', accounts: [OWNER], permissions: ['read'] },
    { value: TOKEN.stranger, name: 'stranger', accounts: [STRANGER], permissions: ['read', 'edit'] },
    // Scoped to the owner and both recipients: its memberships name all three.
    { value: TOKEN.accounts, name: 'three', accounts: [OWNER, R1, R2], permissions: ['read', 'edit'] },
  ],
};

const skip = chromiumSkip('the console browser test');

let server: ServerProcess;
let browser: Browser;
let dir: string;
/** Every URL any page requested, and the JavaScript bytes of each document load (one list per load). */
const requested: string[] = [];
const jsBytes: Promise<number>[][] = [];
let shot = 0;

async function api(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${server.url}/client/v4${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as { success: boolean; result: { id: string } };
  assert.equal(json.success, true, JSON.stringify(json));
  return json.result;
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  // A fresh context per person: its own sessionStorage, so nothing carries over between sign-ins.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  let bytes: Promise<number>[] = [];
  page.on('request', (req) => {
    requested.push(req.url());
    if (req.resourceType() === 'document' && req.frame() === page.mainFrame()) jsBytes.push((bytes = []));
  });
  page.on('response', (res) => {
    if (res.request().resourceType() === 'script') bytes.push(res.body().then((b) => b.length));
  });
  return { context, page };
}

async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  shot += 1;
  await page.screenshot({
    path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`),
    fullPage,
  });
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${server.url}/console`);
  await page.getByLabel('API token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Accounts' }).waitFor();
}

/** The matrix cell of a recipient account (row) for the only resource. */
const cell = (page: Page, account: string) =>
  page
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: account }) })
    .getByTestId('matrix-cell');

describe('the web console in Chromium', { skip }, () => {
  before(async () => {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'rshare-console-'));
    writeFileSync(join(dir, 'bootstrap.json'), JSON.stringify(bootstrap));
    server = await startServer({
      database: ':memory:',
      entry: 'bin',
      bootstrap: join(dir, 'bootstrap.json'),
      serveArgs: ['--admin-token', ADMIN],
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let shareUrl = '';

  test('given the owner token, when creating a share to two accounts through the form, then one cell associates and the other fails terminally with its message', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await screenshot(page, 'accounts');
    await page.getByRole('link', { name: 'Acme Owner' }).click();
    await page.getByRole('link', { name: 'New share' }).click();
    await page.getByLabel('Share name').fill('Console share');
    // First a recipient outside the organization: the API's message and field are shown as it words them.
    await page.getByLabel('Recipient account ids (one per line)').fill(`${R1}\n${STRANGER}`);
    await page.getByLabel('Resource type').selectOption('custom-ruleset');
    await page.getByLabel('Resource id').fill(RESOURCE);
    await page.getByLabel('Resource 1 meta (JSON object)').fill('{"rule": "block"}');
    await page.getByLabel('Tags (key=value, one per line)').fill('env=test');
    await page.getByRole('button', { name: 'Create share' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), new RegExp(`${STRANGER}`));
    assert.match(await refusal.innerText(), /field \/recipients\/1\/recipient_account_id/);
    await screenshot(page, 'create-refused');

    await page.getByLabel('Recipient account ids (one per line)').fill(`${R1}\n${R2}`);
    await page.getByRole('button', { name: 'Create share' }).click();
    await page.getByRole('heading', { name: 'Console share' }).waitFor();
    shareUrl = page.url();
    assert.match(shareUrl, new RegExp(`/console/accounts/${OWNER}/shares/[0-9a-f]{32}$`));

    await cell(page, R1).filter({ hasText: 'associated v1' }).waitFor({ timeout: SETTLE_MS });
    await cell(page, R2).filter({ hasText: 'error, terminal' }).waitFor({ timeout: SETTLE_MS });
    assert.equal(await cell(page, R2).innerText(), `error, terminal: ${ENTITLEMENT_ERROR}`);
    await screenshot(page, 'share-matrix');
    // The top of the page, as docs/console-share.png shows it (copied from here by hand when the look changes).
    await page.screenshot({
      path: join(ARTIFACTS, 'share-matrix-top.png'),
      clip: { x: 0, y: 0, width: 1280, height: 700 },
    });
    await context.close();
  });

  test('given the share, when updating its resource meta, then the version goes to 2 and reaches the recipient', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await page.goto(shareUrl);
    await page.getByRole('button', { name: `Edit meta of ${RESOURCE}` }).click();
    const editor = page.getByLabel(`Meta of ${RESOURCE}`);
    await editor.fill('{"rule": ');
    // Invalid JSON is caught before anything is sent.
    await page.getByText(/^Not valid JSON/).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save meta' }).isDisabled(), true);
    await editor.fill('{"rule": "challenge"}');
    await page.getByRole('button', { name: 'Save meta' }).click();
    await page.getByTestId('resource-version').filter({ hasText: 'v2' }).waitFor();
    await cell(page, R1).filter({ hasText: 'associated v2' }).waitFor({ timeout: SETTLE_MS });
    await screenshot(page, 'meta-updated');
    await context.close();
  });

  test('given the changes, when reading the history, then the audit entries newest first with old and new values', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await page.goto(shareUrl);
    await page.getByRole('link', { name: 'History' }).click();
    const entries = page.getByRole('list', { name: 'Audit entries, newest first' }).getByRole('listitem');
    await entries.first().waitFor();
    const texts = await entries.allInnerTexts();
    const update = texts.findIndex(
      (t) => /\(update, success\) by token owner/.test(t) && t.includes('"challenge"'),
    );
    const create = texts.findIndex(
      (t) => /\(create, success\) by token owner/.test(t) && t.includes('Console share'),
    );
    assert.ok(update >= 0, texts.join('\n---\n'));
    assert.ok(create > update, 'newest first: the update is above the creation');
    assert.match(texts[update] ?? '', /"block"[\s\S]*"challenge"/);
    await screenshot(page, 'history');
    await context.close();
  });

  test('given a read-only token, when opening an active share and the share list, then no edit control is shown', async () => {
    const other = await api('POST', `/accounts/${OWNER}/shares`, TOKEN.owner, {
      name: 'Read me',
      recipients: [{ recipient_account_id: R1 }],
      resources: [
        { resource_type: 'gateway-policy', resource_id: 'abc', resource_account_id: OWNER, meta: {} },
      ],
    });
    const { context, page } = await newPage();
    await signIn(page, TOKEN.reader);
    await page.goto(`${server.url}/console/accounts/${OWNER}/shares/${other.id}`);
    await page.getByRole('heading', { name: 'Read me' }).waitFor();
    await page.getByRole('table', { name: 'Shared resources' }).waitFor();
    for (const name of [
      'Delete share',
      'Save name and tags',
      'Add resource',
      'Add recipient',
      'Edit meta of abc',
    ]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    }
    await page.goto(`${server.url}/console/accounts/${OWNER}`);
    await page.getByRole('link', { name: 'Read me' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'New share' }).count(), 0);
    await screenshot(page, 'read-only');
    // The same page for the owner token does show them (so their absence above is the permission).
    const owner = await newPage();
    await signIn(owner.page, TOKEN.owner);
    await owner.page.goto(`${server.url}/console/accounts/${OWNER}/shares/${other.id}`);
    await owner.page.getByRole('button', { name: 'Delete share' }).waitFor();
    await owner.context.close();
    await context.close();
  });

  test("given a stranger's share id typed into the URL, when the owner opens it, then not found", async () => {
    const theirs = await api('POST', `/accounts/${STRANGER}/shares`, TOKEN.stranger, {
      name: 'Not yours',
      recipients: [{ recipient_account_id: STRANGER_2 }],
      resources: [
        { resource_type: 'gateway-policy', resource_id: 'xyz', resource_account_id: STRANGER, meta: {} },
      ],
    });
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    for (const account of [OWNER, STRANGER]) {
      await page.goto(`${server.url}/console/accounts/${account}/shares/${theirs.id}`);
      await page.getByRole('heading', { name: 'Share not found' }).waitFor();
      assert.equal(await page.getByText('Not yours').count(), 0);
    }
    await screenshot(page, 'not-found');
    await context.close();
  });

  test('given the share, when renaming, retagging, adding and removing a recipient and a resource, then each change shows', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await page.goto(shareUrl);
    await page.getByLabel('Name', { exact: true }).fill('Console share renamed');
    await page.getByLabel('Tags (key=value, one per line)').fill('env=prod\nteam=edge');
    await page.getByRole('button', { name: 'Save name and tags' }).click();
    await page.getByRole('heading', { name: 'Console share renamed' }).waitFor();
    await page.getByText('env=prod, team=edge').waitFor();

    // A refusal names its field: a recipient outside the organization.
    await page.getByLabel('Recipient account id').fill(STRANGER);
    await page.getByRole('button', { name: 'Add recipient' }).click();
    await page.getByRole('alert').filter({ hasText: 'The API refused the recipient' }).waitFor();
    assert.match(await page.getByRole('alert').innerText(), /field \/recipient_account_id/);
    await page.getByRole('button', { name: `Remove recipient ${R2}` }).click();
    await page
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: R2 }) })
      .getByText('disassociated')
      .first()
      .waitFor({ timeout: SETTLE_MS });
    await page.getByLabel('Recipient account id').fill(R2);
    await page.getByRole('button', { name: 'Add recipient' }).click();
    await cell(page, R2).filter({ hasText: 'error, terminal' }).waitFor({ timeout: SETTLE_MS });

    await page.getByLabel('Resource type').selectOption('gateway-policy');
    await page.getByLabel('Resource id').fill('policy-1');
    await page.getByLabel('Meta (JSON object)').fill('{"action": "allow"}');
    await page.getByRole('button', { name: 'Add resource' }).click();
    await page.getByRole('button', { name: 'Edit meta of policy-1' }).waitFor();
    // R2 is entitled to gateway policies: its cell for the new resource associates.
    await page
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: R2 }) })
      .getByText('associated v1')
      .waitFor({ timeout: SETTLE_MS });
    await screenshot(page, 'two-resources');
    await page.getByRole('button', { name: 'Remove policy-1' }).click();
    await page
      .getByRole('button', { name: 'Edit meta of policy-1' })
      .waitFor({ state: 'detached', timeout: SETTLE_MS });
    await context.close();
  });

  test('given a token of the owner and its recipients, when signing in, opening the share and renaming it, then recipients show their names and no request fails', async () => {
    const { context, page } = await newPage();
    const failures: string[] = [];
    page.on('requestfailed', (req) => failures.push(`${req.url()}: ${req.failure()?.errorText}`));
    page.on('response', (res) => {
      if (res.status() >= 400) failures.push(`${res.url()}: ${res.status()}`);
    });
    await signIn(page, TOKEN.accounts);
    await page.getByRole('link', { name: 'Acme Owner' }).click();
    await page.getByRole('link', { name: 'Console share renamed' }).click();
    await page.getByRole('heading', { name: 'Console share renamed' }).waitFor();
    // Names from the credential's memberships, ids kept beside them.
    for (const [id, name] of [
      [R1, 'Acme R1'],
      [R2, 'Acme R2'],
    ]) {
      await page.getByRole('rowheader', { name: `${name} ${id}` }).waitFor();
    }
    await page.getByLabel('Name', { exact: true }).fill('Console share, renamed again');
    await page.getByRole('button', { name: 'Save name and tags' }).click();
    await page.getByRole('heading', { name: 'Console share, renamed again' }).waitFor();
    // The resource types come from the server's own list, trust-grant included.
    assert.ok((await page.getByLabel('Resource type').innerText()).includes('trust-grant'));
    await screenshot(page, 'recipient-names');
    assert.deepEqual(failures, []);
    await context.close();
  });

  test('given the whole organization as recipients, when excluding an account and re-including it, then the exclusion list follows', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await page.goto(`${server.url}/console/accounts/${OWNER}/new`);
    await page.getByLabel('Share name').fill('Everyone');
    await page.getByRole('radio', { name: /The whole organization/ }).check();
    assert.equal(await page.getByLabel('Organization id').inputValue(), ORG);
    await page.getByLabel('Resource id').fill('org-policy');
    await page.getByLabel('Resource type').selectOption('gateway-policy');
    await page.getByRole('button', { name: 'Create share' }).click();
    await page.getByRole('heading', { name: 'Everyone' }).waitFor();
    await cell(page, R1).filter({ hasText: 'associated v1' }).waitFor({ timeout: SETTLE_MS });
    await page.getByLabel('Account id to exclude').fill(R1);
    await page.getByRole('button', { name: 'Exclude account' }).click();
    await page.getByRole('button', { name: `Re-include ${R1}` }).waitFor();
    await screenshot(page, 'organization-share');
    await page.getByRole('button', { name: `Re-include ${R1}` }).click();
    await page.getByText('No account of the organization is excluded.').waitFor();
    await context.close();
  });

  test('given an email and global API key, when signing in, then the accounts of that user', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.url}/console`);
    await page.getByRole('radio', { name: 'Use an email and global API key' }).check();
    await page.getByLabel('Email', { exact: true }).fill(USER.email);
    await page.getByLabel('Global API key', { exact: true }).fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Unknown X-Auth-Key or X-Auth-Email' }).waitFor();
    await page.getByLabel('Global API key', { exact: true }).fill(USER.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Acme Owner' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Acme R1' }).count(), 0);
    await context.close();
  });

  test('given the share, when deleting it, then it goes through deleting to deleted', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await page.goto(shareUrl);
    await page.getByRole('button', { name: 'Delete share' }).click();
    await page.getByRole('button', { name: 'Yes, delete this share' }).click();
    await page
      .getByTestId('share-status')
      .filter({ hasText: /^deleted$/ })
      .waitFor({ timeout: SETTLE_MS });
    assert.deepEqual([...new Set(await cell(page, R1).allInnerTexts())], ['disassociated']);
    await screenshot(page, 'deleted');
    await context.close();
  });

  test('given the admin token, when opening the emulator panel and reconciling, then the admin API answers', async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN.owner);
    await page.getByRole('link', { name: 'Emulator' }).click();
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Open the emulator panel' }).click();
    await page.getByRole('button', { name: 'Reconcile now' }).click();
    await page.getByLabel('Last answer').filter({ hasText: '"processed"' }).waitFor();
    await page.getByRole('table', { name: 'Public API requests, newest first (the last 25)' }).waitFor();
    await page.setViewportSize({ width: 420, height: 900 });
    await screenshot(page, 'emulator-narrow', false);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await context.close();
  });

  test('given every page above, when counting, then each loaded under 200 KB of JavaScript and called 127.0.0.1 only', async () => {
    assert.ok(jsBytes.length >= 7);
    for (const bytes of jsBytes) {
      const total = (await Promise.all(bytes)).reduce((a, b) => a + b, 0);
      assert.ok(total > 0 && total < MAX_JS_BYTES, `${total} bytes of JavaScript`);
    }
    assert.ok(requested.length > 0);
    const elsewhere = requested.filter((u) => new URL(u).hostname !== '127.0.0.1');
    assert.deepEqual(elsewhere, []);
  });
});
