import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError, call, setup, type Harness } from './helpers.js';
import { assertNoRoute } from './support/assert.js';

const ADMIN = 'admin-token-for-tests-0001';

describe('admin API mount', () => {
  describe('given a server started without an admin token', () => {
    let h: Harness;
    before(async () => {
      h = await setup();
    });
    after(() => h.close());

    it('when any /_rshare path is called, then it answers like an unknown route', async () => {
      for (const [method, url] of [
        ['GET', '/_rshare/state'],
        ['POST', '/_rshare/reset'],
        ['GET', '/_rshare'],
      ] as const) {
        const res = await call(h.app, method, url, { token: ADMIN });
        assertNoRoute(res);
      }
    });
  });

  describe('given a server started with an admin token', () => {
    let h: Harness;
    before(async () => {
      h = await setup({
        app: {
          admin: {
            token: ADMIN,
            routes: (app) => app.get('/ping', async () => ({ success: true, result: 'pong' })),
          },
        },
      });
    });
    after(() => h.close());

    it('when the admin token is presented, then the admin route answers', async () => {
      const res = await call(h.app, 'GET', '/_rshare/ping', { token: ADMIN });
      assert.equal(res.status, 200);
      assert.equal(res.body.result, 'pong');
    });

    it('when no token, a wrong token or an API token is presented, then it is refused in the envelope', async () => {
      for (const token of [null, 'wrong-admin-token', 'owner-token-secret-value-0001']) {
        const res = await call(h.app, 'GET', '/_rshare/ping', { token });
        assertError(res, 403, 10000, 'Authentication error');
      }
    });

    it('when an unknown admin path is called with the token, then it is an unknown route', async () => {
      const res = await call(h.app, 'GET', '/_rshare/nothing-here', { token: ADMIN });
      assertNoRoute(res);
    });
  });
});
