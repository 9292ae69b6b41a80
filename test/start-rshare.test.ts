import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import { RshareAdminError, startRshare, type BootstrapFile, type Rshare } from '../src/index.js';

const ORG = 'a0000000000000000000000000000001';
const OWNER = 'b0000000000000000000000000000001';
const PEER = 'b0000000000000000000000000000002';
const OTHER = 'b0000000000000000000000000000003';
const TOKEN = 'start-rshare-test-token-000001';
const BOOTSTRAP: BootstrapFile = {
  organizations: [{ id: ORG, name: 'Acme' }],
  accounts: [
    { id: OWNER, name: 'Owner', organization_id: ORG },
    { id: PEER, name: 'Peer', organization_id: ORG },
    { id: OTHER, name: 'Other', organization_id: ORG },
  ],
  tokens: [{ value: TOKEN, name: 'ci', accounts: [OWNER, PEER, OTHER], permissions: ['read', 'edit'] }],
};

const shareParams = (name = 'waf', recipient = PEER) => ({
  account_id: OWNER,
  name,
  recipients: [{ recipient_account_id: recipient }],
  resources: [
    {
      resource_account_id: OWNER,
      resource_id: `${name}-rule`,
      resource_type: 'custom-ruleset' as const,
      meta: {},
    },
  ],
});

const sdk = (r: Rshare, extra: Partial<ConstructorParameters<typeof Cloudflare>[0]> = {}) =>
  new Cloudflare({ apiToken: TOKEN, apiKey: null, apiEmail: null, baseURL: r.baseURL, ...extra });

describe('startRshare', () => {
  describe('given an in-process server with a bootstrap object and an id seed', () => {
    let r: Rshare;
    let cf: Cloudflare;
    before(async () => {
      r = await startRshare({ bootstrap: BOOTSTRAP, idSeed: 7 });
      cf = sdk(r);
    });
    after(() => r.close());
    beforeEach(() => r.reset());

    it('when the SDK creates a share, then waitFor answers once it is associated', async () => {
      assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(r.baseURL, `${r.url}/client/v4`);
      const share = await cf.resourceSharing.create(shareParams());
      const settled = await r.waitFor(share.id, { timeoutMs: 10_000 });
      assert.equal(settled.share_id, share.id);
      assert.deepEqual(
        settled.recipients.map((x) => [x.account_id, x.association_status]),
        [[PEER, 'associated']],
      );
    });

    it('when the store is reset, then shares are gone, the bootstrap token still works and ids repeat', async () => {
      const first = await cf.resourceSharing.create(shareParams('one'));
      await r.reset();
      const page = await cf.resourceSharing.list({ account_id: OWNER });
      assert.deepEqual(page.result, []);
      const again = await cf.resourceSharing.create(shareParams('one'));
      assert.equal(again.id, first.id);
    });

    it('when the journal is read, then it lists what the SDK sent, newest first', async () => {
      await r.clearRequests();
      const share = await cf.resourceSharing.create(shareParams('journaled'));
      await cf.resourceSharing.get(share.id, { account_id: OWNER });
      const entries = await r.requests();
      assert.deepEqual(
        entries.map((e) => [e.method, e.operation_id, e.status]),
        [
          ['GET', 'shares-get-by-id', 200],
          ['POST', 'share-create', 201],
        ],
      );
      assert.equal((entries[1]?.body as { name?: string } | null)?.name, 'journaled');
    });

    it('when a one-shot 503 fault is added, then the SDK retries through it', async () => {
      const share = await cf.resourceSharing.create(shareParams('faulted'));
      const rule = await r.faults.add({ method: 'GET', path: '/accounts/*/shares/*', status: 503, count: 1 });
      const got = await cf.resourceSharing.get(share.id, { account_id: OWNER });
      assert.equal(got.id, share.id);
      const [listed] = await r.faults.list();
      assert.equal(listed?.id, rule.id);
      assert.equal(listed?.fired, 1);
    });

    it('when the state is read and written back, then it is unchanged', async () => {
      await cf.resourceSharing.create(shareParams('kept'));
      await r.reconcile();
      const doc = await r.getState();
      await r.reset();
      await r.setState(doc);
      assert.deepEqual(await r.getState(), doc);
      const page = await cf.resourceSharing.list({ account_id: OWNER });
      assert.deepEqual(
        page.result.map((s) => s.name),
        ['kept'],
      );
    });

    it('when the clock is frozen and advanced, then it reports so', async () => {
      const frozen = await r.clock.freeze();
      assert.equal(frozen.frozen, true);
      const moved = await r.clock.advance(60_000);
      assert.equal(Date.parse(moved.now) - Date.parse(frozen.now), 60_000);
      const resumed = await r.clock.resume();
      assert.equal(resumed.frozen, false);
    });

    it('when the clock is set and read, then it reports the instant set', async () => {
      const set = await r.clock.set(new Date('2030-05-01T12:00:00Z'));
      assert.ok(set.now.startsWith('2030-05-01T12:00:0'), set.now);
      const read = await r.clock.get();
      assert.ok(Date.parse(read.now) >= Date.parse('2030-05-01T12:00:00Z'));
      await r.reset(); // back to the machine's time
      assert.ok(Math.abs((await r.clock.get()).offset_ms) < 60_000);
    });

    it('when fault rules are removed one by one or all at once, then none is left', async () => {
      const one = await r.faults.add({ method: 'GET', path: '/accounts/**', status: 500 });
      await r.faults.add({ method: 'POST', path: '/accounts/**', status: 502 });
      await r.faults.remove(one.id);
      assert.deepEqual(
        (await r.faults.list()).map((f) => (f as { status?: number }).status),
        [502],
      );
      await r.faults.clear();
      assert.deepEqual(await r.faults.list(), []);
      await assert.rejects(r.faults.remove(one.id), (err: unknown) => {
        assert.ok(err instanceof RshareAdminError);
        assert.equal(err.status, 404);
        return true;
      });
    });

    it('when an admin call is invalid, then it rejects with the status and the field', async () => {
      await assert.rejects(r.reset({ organization_id: 'not-an-id' }), (err: unknown) => {
        assert.ok(err instanceof RshareAdminError);
        assert.equal(err.status, 400);
        assert.equal(err.errors[0]?.source?.pointer, '/organization_id');
        return true;
      });
    });

    it('when the admin token is wrong, then the admin API refuses it', async () => {
      const res = await fetch(`${r.url}/_rshare/state`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(res.status, 403);
      const body = (await res.json()) as { errors: { code: number }[] };
      assert.equal(body.errors[0]?.code, 10000);
    });
  });

  describe('given server timeouts', () => {
    it('when a request is answered, then its keep-alive timeout is the one given', async () => {
      const r = await startRshare({ timeouts: { keepAliveMs: 7000 } });
      try {
        const res = await fetch(`${r.url}/healthz`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('keep-alive'), 'timeout=7');
      } finally {
        await r.close();
      }
    });
  });

  describe('given a server started from a bootstrap file', () => {
    it('when the file is edited and the store reset, then the edit takes effect', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rshare-bootstrap-'));
      const file = join(dir, 'tenancy.json');
      writeFileSync(file, JSON.stringify(BOOTSTRAP));
      const r = await startRshare({ bootstrap: file });
      try {
        const added = 'b00000000000000000000000000000ff';
        const before = await r.getState();
        assert.equal(before.accounts.length, 3);
        const edited = {
          ...BOOTSTRAP,
          accounts: [...(BOOTSTRAP.accounts ?? []), { id: added, name: 'Late', organization_id: ORG }],
        };
        writeFileSync(file, JSON.stringify(edited));
        await r.reset();
        const after = await r.getState();
        assert.deepEqual(
          after.accounts.map((a) => a.id),
          [OWNER, PEER, OTHER, added],
        );
      } finally {
        await r.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('given two servers started with the same id seed', () => {
    it('when the same calls are made on each, then they issue the same ids', async () => {
      const ids: string[][] = [];
      for (let run = 0; run < 2; run++) {
        const r = await startRshare({ bootstrap: BOOTSTRAP, idSeed: 42, reconcile: 'manual' });
        try {
          const cf = sdk(r);
          const share = await cf.resourceSharing.create(shareParams());
          const recipients = await cf.resourceSharing.recipients.list(share.id, { account_id: OWNER });
          const resources = await cf.resourceSharing.resources.list(share.id, { account_id: OWNER });
          ids.push([share.id, ...recipients.result.map((x) => x.id), ...resources.result.map((x) => x.id)]);
        } finally {
          await r.close();
        }
      }
      assert.equal(ids[0]?.length, 3);
      assert.deepEqual(ids[0], ids[1]);
      const other = await startRshare({ bootstrap: BOOTSTRAP, idSeed: 43, reconcile: 'manual' });
      try {
        const share = await sdk(other).resourceSharing.create(shareParams());
        assert.notEqual(share.id, ids[0]?.[0]);
      } finally {
        await other.close();
      }
    });
  });

  describe('given a server in manual reconcile mode', () => {
    let r: Rshare;
    before(async () => {
      r = await startRshare({ bootstrap: BOOTSTRAP, reconcile: 'manual' });
    });
    after(() => r.close());

    it('when a share is created, then its recipient stays associating until reconcile is called', async () => {
      const cf = sdk(r);
      const share = await cf.resourceSharing.create(shareParams());
      const before = await cf.resourceSharing.recipients.list(share.id, { account_id: OWNER });
      assert.deepEqual(
        before.result.map((x) => x.association_status),
        ['associating'],
      );
      const report = await r.reconcile();
      assert.ok(report.processed >= 1);
      assert.equal(report.pending, 0);
      const afterwards = await cf.resourceSharing.recipients.list(share.id, { account_id: OWNER });
      assert.deepEqual(
        afterwards.result.map((x) => x.association_status),
        ['associated'],
      );
    });
  });

  describe('given journalBytes and journalBodyBytes', () => {
    it('when a share is created with a name over the body cap, then the journal keeps its body truncated', async () => {
      const r = await startRshare({ bootstrap: BOOTSTRAP, journalBytes: 2048, journalBodyBytes: 64 });
      try {
        await sdk(r).resourceSharing.create({ ...shareParams(), name: 'n'.repeat(100) });
        const [entry] = await r.requests({ operation_id: 'share-create' });
        assert.deepEqual([entry?.body_truncated, typeof entry?.body], [true, 'string']);
        assert.equal(Buffer.byteLength(entry?.body as string), 64);
      } finally {
        await r.close();
      }
    });

    it('when journalBodyBytes exceeds journalBytes, then startRshare is refused before anything starts', async () => {
      await assert.rejects(startRshare({ journalBytes: 100, journalBodyBytes: 200 }), {
        name: 'RangeError',
        message: 'journal body bytes must not exceed journal bytes',
      });
    });
  });
});
