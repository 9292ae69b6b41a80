import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertErrors,
  base,
  call,
  ORG,
  OWNER,
  R2,
  routeErrors,
  seedShareBody,
  setup,
  type Harness,
} from './helpers.js';

let h: Harness;
/** OWNER's share with one recipient and one resource, and an organization share with one exclusion. */
let ids: { share: string; recipient: string; resource: string; orgShare: string; exclusion: string };

before(async () => {
  h = await setup();
  const share = (await call(h.app, 'POST', base(), { body: seedShareBody() })).body.result;
  const recipients = (await call(h.app, 'GET', `${base()}/${share.id}/recipients`)).body.result;
  const resources = (await call(h.app, 'GET', `${base()}/${share.id}/resources`)).body.result;
  const orgShare = (
    await call(h.app, 'POST', base(), {
      body: { name: 'Org-wide', recipients: [{ organization_id: ORG }], resources: [] },
    })
  ).body.result;
  const exclusion = (
    await call(h.app, 'POST', `${base()}/${orgShare.id}/excluded-recipients`, {
      body: { account_id: R2 },
    })
  ).body.result;
  ids = {
    share: share.id,
    recipient: recipients[0].id,
    resource: resources[0].id,
    orgShare: orgShare.id,
    exclusion: exclusion.id,
  };
});
after(async () => {
  await h.close();
});

/** Values that are no id: not hex, one digit too many or too few, upper case, a NUL. */
// 101 characters: over the router's parameter length, refused before any route is matched.
const NOT_IDS = ['not-an-id', 'e'.repeat(33), 'e'.repeat(31), 'E'.repeat(32), 'abc%00', 'e'.repeat(101)];

/** Every API path with an id segment, with `bad` in the one position named. */
function paths(bad: string): Record<string, string> {
  const s = `/client/v4/accounts/${OWNER}/shares/${ids.share}`;
  const o = `/client/v4/accounts/${OWNER}/shares/${ids.orgShare}`;
  return {
    account_id: `/client/v4/accounts/${bad}/shares`,
    'account_id (tokens/verify)': `/client/v4/accounts/${bad}/tokens/verify`,
    'account_id (audit_logs)': `/client/v4/accounts/${bad}/audit_logs`,
    organization_id: `/client/v4/organizations/${bad}/shares`,
    share_id: `/client/v4/accounts/${OWNER}/shares/${bad}`,
    'share_id (recipients)': `/client/v4/accounts/${OWNER}/shares/${bad}/recipients`,
    recipient_id: `${s}/recipients/${bad}`,
    share_resource_id: `${s}/resources/${bad}`,
    excluded_recipient_id: `${o}/excluded-recipients/${bad}`,
  };
}

describe('idRoutingHook', () => {
  test('given a path segment that must be an id and is not, when calling with valid credentials, then 400 7003 naming the path, then 7000', async () => {
    for (const bad of NOT_IDS) {
      for (const [what, path] of Object.entries(paths(bad))) {
        const res = await call(h.app, 'GET', path);
        assertErrors(res, 400, routeErrors(path));
        assert.ok(res.headers['x-request-id'], `${what}: x-request-id`);
      }
    }
  });

  test('given a bad id and no or malformed credentials, when calling, then the router answers first: 400 7003 + 7000', async () => {
    for (const path of Object.values(paths('not-an-id'))) {
      assertErrors(await call(h.app, 'GET', path, { token: null }), 400, routeErrors(path));
      const malformed = { authorization: 'Basic b3duZXI6c2VjcmV0' };
      assertErrors(
        await call(h.app, 'GET', path, { token: null, headers: malformed }),
        400,
        routeErrors(path),
      );
    }
  });

  test('given a query string, when the id is bad, then the message names the path without it', async () => {
    const path = '/client/v4/accounts/not-an-id/shares';
    assertErrors(await call(h.app, 'GET', `${path}?page=2&per_page=5`), 400, routeErrors(path));
  });

  test('given the root alias (no /client/v4), when the id is bad, then the message names the path as sent', async () => {
    const path = '/accounts/not-an-id/shares';
    assertErrors(await call(h.app, 'GET', path), 400, routeErrors(path));
  });

  test('given a bad id on a change, when creating a share or a recipient, then 400 7003 + 7000 and nothing is created', async () => {
    const before = (await call(h.app, 'GET', base())).body.result_info.total_count;
    const create = '/client/v4/accounts/NOT-AN-ID/shares';
    assertErrors(await call(h.app, 'POST', create, { body: seedShareBody() }), 400, routeErrors(create));
    const add = `/client/v4/accounts/${OWNER}/shares/${ids.share.toUpperCase()}/recipients`;
    assertErrors(
      await call(h.app, 'POST', add, { body: { recipient_account_id: R2 } }),
      400,
      routeErrors(add),
    );
    assert.equal((await call(h.app, 'GET', base())).body.result_info.total_count, before);
    const recipients = await call(h.app, 'GET', `${base()}/${ids.share}/recipients`);
    assert.equal(recipients.body.result_info.total_count, 1);
  });

  test('given well-formed ids that name nothing, when calling, then the answers stay as before (404 1404, 403 10000)', async () => {
    const unknown = 'f'.repeat(32);
    assert.equal((await call(h.app, 'GET', `${base()}/${unknown}`)).body.errors[0].code, 1404);
    assert.equal((await call(h.app, 'GET', base(unknown))).body.errors[0].code, 10000);
  });
});
