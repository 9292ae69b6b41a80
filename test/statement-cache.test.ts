import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STATEMENT_CACHE_SIZE, statementCacheStats } from '../src/adapters/sqlite/database.js';
import { SqliteStore } from '../src/adapters/sqlite/index.js';
import {
  base,
  call,
  hexId,
  OWNER,
  R1,
  R2,
  R3,
  seedShareBody,
  setup,
  TOKENS,
  USER,
  type Harness,
} from './helpers.js';

const audit = (query: string) =>
  `/client/v4/accounts/${OWNER}/logs/audit?since=2025-01-01&before=2027-01-01&limit=1000${query}`;
const userAuth = { token: null, headers: { 'x-auth-email': USER.email, 'x-auth-key': USER.key } };
const repeated = (name: string, values: string[]) =>
  values.map((v) => `&${name}=${encodeURIComponent(v)}`).join('');
const fakes = (n: number, kind: string) => Array.from({ length: n }, (_, i) => `${kind}-${i}@nowhere.test`);

/** The SQLite statement cache's counts; undefined on PostgreSQL, which keeps no statements. */
function stats(h: Harness): { size: number; compiled: number } | undefined {
  return h.store instanceof SqliteStore ? statementCacheStats(h.store.db) : undefined;
}

function shareBody(i: number, tags: Record<string, string>) {
  const seed = seedShareBody(R1);
  const [resource] = seed.resources;
  return { ...seed, name: `share ${i}`, tags, resources: [{ ...resource, resource_id: hexId(i, 'e') }] };
}

async function ids(h: Harness, url: string, token: string = TOKENS.ownerRead): Promise<string[]> {
  const res = await call(h.app, 'GET', url, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.result as { id: string }[]).map((e) => e.id);
}

describe('SQLite statement cache: list parameters and the bound', () => {
  let h: Harness;
  /** Entries the user with a global key made. */
  let byUser: string[];
  let userActorId: string;
  const shares: string[] = [];
  before(async () => {
    h = await setup();
    for (let i = 1; i <= 6; i++) {
      const auth = i % 2 === 0 ? userAuth : {};
      const res = await call(h.app, 'POST', base(), {
        ...auth,
        body: shareBody(i, { env: i % 3 === 0 ? 'prod' : 'dev', team: `t${i}` }),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      shares.push(res.body.result.id as string);
    }
    for (const recipient of [R2, R3]) {
      const added = await call(h.app, 'POST', `${base()}/${shares[0]}/recipients`, {
        body: { recipient_account_id: recipient },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    const res = await call(h.app, 'GET', audit(`&actor_email=${encodeURIComponent(USER.email)}`), {
      token: TOKENS.ownerRead,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    byUser = (res.body.result as { id: string }[]).map((e) => e.id);
    userActorId = (res.body.result as { actor: { id: string } }[])[0]?.actor.id ?? '';
    assert.equal(byUser.length, 3);
  });
  after(() => h.close());

  test('given audit queries with 1 to 100 actor_email and actor_id.not values, when a read-only token lists, then the answers are right and no statement is compiled after the first', async () => {
    const query = (emails: number, notIds: number) =>
      audit(
        repeated('actor_email', [USER.email, ...fakes(emails - 1, 'e')]) +
          repeated('actor_id.not', fakes(notIds, 'i')),
      );
    assert.deepEqual(await ids(h, query(1, 1)), byUser);
    const warm = stats(h);
    for (let n = 1; n <= 100; n += 3) {
      assert.deepEqual(await ids(h, query(n, 101 - n)), byUser, `${n} emails, ${101 - n} ids`);
      assert.deepEqual(await ids(h, query(101 - n, n)), byUser, `${101 - n} emails, ${n} ids`);
    }
    // NOT IN over the bound list still excludes: the user's own id among others removes its entries.
    assert.deepEqual(
      await ids(
        h,
        audit(`${repeated('actor_id.not', [...fakes(7, 'i'), userActorId])}&actor_email=${USER.email}`),
      ),
      [],
    );
    if (warm) assert.equal(stats(h)?.compiled, warm.compiled);
  });

  test('given share lists with 1 to 20 tag filters, 1 to 10 resource types, pages of 1 to 6 shares and of 1 to 3 recipients, when listing with resources and counts, then the answers are right and no statement is compiled after the first', async () => {
    const tags = (n: number) => [
      'env=prod',
      ...Array.from({ length: n - 1 }, (_, i) => (i % 2 === 0 ? `k${i}` : `k${i}=v`)),
    ];
    const types = (n: number) => [
      'custom-ruleset',
      ...Array.from({ length: n - 1 }, (_, i) => (i % 2 === 0 ? 'gateway-policy' : 'custom-ruleset')),
    ];
    const list = (query: string) =>
      `${base()}?include_resources=true&include_recipient_counts=true&direction=asc${query}`;
    const page = async (perPage: number) => {
      const res = await call(h.app, 'GET', list(`&per_page=${perPage}`), {
        token: TOKENS.ownerRead,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.result as { id: string; resources: { resource_id: string }[] }[]).map(
        (s) => `${s.id} ${s.resources.map((r) => r.resource_id).join()}`,
      );
    };
    const all = await page(6);
    await ids(h, list(repeated('tag', tags(1))));
    await ids(h, list(repeated('resource_types', types(1))));
    const recipients = async (perPage: number) => {
      const res = await call(
        h.app,
        'GET',
        `${base()}/${shares[0]}/recipients?include_resources=true&per_page=${perPage}`,
        { token: TOKENS.ownerRead },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.result as { recipient_account_id: string; resources: unknown[] }[]).map(
        (r) => `${r.recipient_account_id} ${r.resources.length}`,
      );
    };
    const everyRecipient = await recipients(3);
    assert.equal(everyRecipient.length, 3);
    const warm = stats(h);
    for (let perPage = 1; perPage <= 3; perPage++)
      assert.deepEqual(await recipients(perPage), everyRecipient.slice(0, perPage));
    for (let perPage = 1; perPage <= 6; perPage++)
      assert.deepEqual(await page(perPage), all.slice(0, perPage));
    for (let n = 1; n <= 20; n++) {
      // Only shares 3 and 6 are env=prod, and none has the other keys: one tag matches, more match nothing.
      const expected = n === 1 ? [shares[2], shares[5]] : [];
      assert.deepEqual(await ids(h, list(repeated('tag', tags(n)))), expected, `${n} tags`);
      assert.deepEqual(
        await ids(h, list(repeated('resource_types', types(Math.min(n, 10))))),
        shares,
        `${n} types`,
      );
    }
    assert.deepEqual(await ids(h, list(repeated('tag', ['env', 'team=t2']))), [shares[1]]);
    if (warm) assert.equal(stats(h)?.compiled, warm.compiled);
  });

  test('given audit queries combining filters in more ways than the cache holds, when listed, then the cache stays within its bound', async (t) => {
    if (!stats(h)) return t.skip('PostgreSQL keeps no prepared statements');
    const names = ['actor_email', 'actor_ip_address', 'actor_type', 'raw_method', 'raw_uri', 'resource_type'];
    const before = stats(h)?.compiled ?? 0;
    // Each subset of filters, positive or negated, is its own query text: 3^6 = 729 of them.
    for (let combination = 0; combination < 3 ** names.length; combination++) {
      let query = '';
      for (let i = 0, c = combination; i < names.length; i++, c = Math.floor(c / 3)) {
        if (c % 3 === 1) query += `&${names[i]}=x`;
        if (c % 3 === 2) query += `&${names[i]}.not=x`;
      }
      await ids(h, audit(query));
      assert.ok((stats(h)?.size ?? 0) <= STATEMENT_CACHE_SIZE, `after ${combination + 1} queries`);
    }
    assert.ok((stats(h)?.compiled ?? 0) - before > STATEMENT_CACHE_SIZE, 'the bound was reached');
    assert.equal(stats(h)?.size, STATEMENT_CACHE_SIZE);
  });
});
