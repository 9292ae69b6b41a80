import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call, ORG, OWNER, R1, R2, seedShareBody, setup, TOKENS, type Harness } from './helpers.js';

/**
 * Recipient counts are the owner's (issue 16, finding 4): a recipient asking for them on a share it
 * receives gets none, in GET and in its list, while the owner still does.
 */

type Json = Record<string, unknown>;
const COUNT_FIELDS = [
  'associating_recipient_count',
  'associated_recipient_count',
  'disassociating_recipient_count',
  'disassociated_recipient_count',
] as const;
const WITH_COUNTS = '?include_recipient_counts=true';

const countsOf = (share: Json) => COUNT_FIELDS.map((f) => share[f]);
const countFieldsIn = (share: Json) => COUNT_FIELDS.filter((f) => f in share);

async function ok(reply: Promise<{ status: number; body: { result: unknown } }>): Promise<unknown> {
  const res = await reply;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result;
}

describe('recipient counts: owner only', () => {
  let h: Harness;
  // S: OWNER -> R1 and R2, then R2 removed (one associating, one disassociating). T: R1 -> OWNER.
  let S: string, T: string;
  before(async () => {
    h = await setup();
    const s = await call(h.app, 'POST', base(), {
      body: { ...seedShareBody(), recipients: [{ recipient_account_id: R1 }, { recipient_account_id: R2 }] },
    });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    S = s.body.result.id;
    const recipients = (await ok(call(h.app, 'GET', `${base()}/${S}/recipients`))) as Json[];
    const r2 = recipients.find((r) => r.account_id === R2) as Json;
    assert.equal((await call(h.app, 'DELETE', `${base()}/${S}/recipients/${r2.id}`)).status, 200);
    h.clock.advance(1000);
    const t = await call(h.app, 'POST', base(R1), {
      token: TOKENS.r1,
      body: {
        ...seedShareBody(OWNER),
        resources: [{ ...seedShareBody().resources[0], resource_account_id: R1 }],
      },
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    T = t.body.result.id;
  });
  after(() => h.close());

  test('GET /shares/{id}: given a recipient asking for recipient counts, when getting the received share, then no count fields, exactly as without asking', async () => {
    const asked = (await ok(
      call(h.app, 'GET', `${base(R1)}/${S}${WITH_COUNTS}`, { token: TOKENS.r1 }),
    )) as Json;
    assert.equal(asked.kind, 'received');
    assert.deepEqual(countFieldsIn(asked), []);
    assert.deepEqual(asked, await ok(call(h.app, 'GET', `${base(R1)}/${S}`, { token: TOKENS.r1 })));
    // With resources asked for too, the resources come and the counts still do not.
    const both = (await ok(
      call(h.app, 'GET', `${base(R1)}/${S}${WITH_COUNTS}&include_resources=true`, { token: TOKENS.r1 }),
    )) as Json;
    assert.equal((both.resources as unknown[]).length, 1);
    assert.deepEqual(countFieldsIn(both), []);
  });

  test('GET /shares/{id}: given the owner asking for recipient counts, when getting its share, then every count', async () => {
    const owned = (await ok(call(h.app, 'GET', `${base()}/${S}${WITH_COUNTS}`))) as Json;
    assert.equal(owned.kind, 'sent');
    assert.deepEqual(countsOf(owned), [1, 0, 1, 0]);
  });

  test('GET /shares: given a recipient asking for recipient counts, when listing owned and received shares, then counts on the owned share only', async () => {
    const items = (await ok(call(h.app, 'GET', `${base(R1)}${WITH_COUNTS}`, { token: TOKENS.r1 }))) as Json[];
    assert.deepEqual(
      items.map((s) => [s.id, s.kind, countFieldsIn(s).length]),
      [
        [S, 'received', 0],
        [T, 'sent', 4],
      ],
    );
    assert.deepEqual(countsOf(items[1] as Json), [1, 0, 0, 0]);
  });

  test('GET /shares: given the owner asking for recipient counts, when listing, then counts on its share and none on the one it receives', async () => {
    const items = (await ok(call(h.app, 'GET', `${base()}${WITH_COUNTS}`))) as Json[];
    assert.deepEqual(
      items.map((s) => [s.id, s.kind, countsOf(s)]),
      [
        [S, 'sent', [1, 0, 1, 0]],
        [T, 'received', [undefined, undefined, undefined, undefined]],
      ],
    );
    assert.deepEqual(countFieldsIn(items[1] as Json), []);
  });

  test('GET /organizations/{id}/shares: given include_recipient_counts, when listing, then no counts (the contract offers none there)', async () => {
    const items = (await ok(
      call(h.app, 'GET', `/client/v4/organizations/${ORG}/shares${WITH_COUNTS}`, { token: TOKENS.org }),
    )) as Json[];
    assert.deepEqual(
      items.map((s) => [s.id, countFieldsIn(s).length]),
      [
        [S, 0],
        [T, 0],
      ],
    );
  });
});
