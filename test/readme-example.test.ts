// The example of the README's "Using rshare in test suites", word for word except this import path
// (a project that installed rshare imports from 'rshare').
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Cloudflare from 'cloudflare';
import { startRshare, type Rshare } from '../src/index.js';

const ORG = 'a0000000000000000000000000000001';
const OWNER = 'b0000000000000000000000000000001';
const PEER = 'b0000000000000000000000000000002';
const TOKEN = 'ci-token-for-the-owner-account-0001';

let rshare: Rshare;
let cf: Cloudflare;

before(async () => {
  rshare = await startRshare({
    bootstrap: {
      organizations: [{ id: ORG, name: 'Acme' }],
      accounts: [
        { id: OWNER, name: 'Owner', organization_id: ORG },
        { id: PEER, name: 'Peer', organization_id: ORG },
      ],
      tokens: [{ value: TOKEN, name: 'ci', accounts: [OWNER, PEER], permissions: ['read', 'edit'] }],
    },
    idSeed: 1, // the same ids on every run: snapshots and golden files stay stable
  });
  cf = new Cloudflare({ apiToken: TOKEN, baseURL: rshare.baseURL });
});
after(() => rshare.close());
beforeEach(() => rshare.reset()); // every test starts from the bootstrap tenancy, nothing shared

test('a share reaches its recipient', async () => {
  const share = await cf.resourceSharing.create({
    account_id: OWNER,
    name: 'waf',
    recipients: [{ recipient_account_id: PEER }],
    resources: [{ resource_account_id: OWNER, resource_id: 'r1', resource_type: 'custom-ruleset', meta: {} }],
  });
  const settled = await rshare.waitFor(share.id!); // no sleeping: answers once association settled
  assert.equal(settled.recipients[0]?.association_status, 'associated');

  const [sent] = await rshare.requests({ operation_id: 'share-create' });
  assert.deepEqual(sent?.body, {
    name: 'waf',
    recipients: [{ recipient_account_id: PEER }],
    resources: [{ resource_account_id: OWNER, resource_id: 'r1', resource_type: 'custom-ruleset', meta: {} }],
  }); // exactly what the code under test sent
});

test('the SDK retries through a rate limit', async () => {
  // Only the first GET of a share answers 429 (code 971, Retry-After: 1), exactly as Cloudflare's limiter.
  await rshare.faults.add({ method: 'GET', path: '/accounts/*/shares/*', status: 429, count: 1 });
  const share = await cf.resourceSharing.create({
    account_id: OWNER,
    name: 'retry',
    recipients: [{ recipient_account_id: PEER }],
    resources: [{ resource_account_id: OWNER, resource_id: 'r2', resource_type: 'custom-ruleset', meta: {} }],
  });
  const got = await cf.resourceSharing.get(share.id!, { account_id: OWNER });
  assert.equal(got.id, share.id);
  const gets = await rshare.requests({ method: 'GET', path: '/accounts/*/shares/*' });
  assert.deepEqual(
    gets.map((r) => r.status),
    [200, 429],
  ); // newest first
});
