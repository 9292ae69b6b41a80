import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planOrganizationShare } from '../src/engine/reconciler/organization.js';
import { groupTags, recipientCounts } from '../src/adapters/rows.js';
import { groupBy } from '../src/lib/group-by.js';

describe('planOrganizationShare', () => {
  const members = new Set(['owner', 'a', 'b', 'c']);

  test('given a new share with no recipients, when planned, then every member but the owner is added', () => {
    assert.deepEqual(planOrganizationShare(members, 'owner', new Set(), []), {
      change: [],
      add: ['a', 'b', 'c'],
    });
  });

  test('given an excluded member and a departed account, when planned, then both are disassociated and nothing else moves', () => {
    const current = [
      { account_id: 'a', desired_status: 'associated' },
      { account_id: 'b', desired_status: 'associated' },
      { account_id: 'gone', desired_status: 'associated' },
    ];
    assert.deepEqual(planOrganizationShare(members, 'owner', new Set(['b']), current), {
      change: [
        { accountId: 'b', to: 'disassociated' },
        { accountId: 'gone', to: 'disassociated' },
      ],
      add: ['c'],
    });
  });

  test('given a member disassociated earlier and no longer excluded, when planned, then it is associated again on its record', () => {
    const current = [{ account_id: 'a', desired_status: 'disassociated' }];
    assert.deepEqual(planOrganizationShare(new Set(['owner', 'a']), 'owner', new Set(), current), {
      change: [{ accountId: 'a', to: 'associated' }],
      add: [],
    });
  });
});

describe('row grouping', () => {
  test('groupTags: given tag rows of two shares, when grouped, then each share gets its own object', () => {
    const tags = groupTags([
      { share_id: 's1', key: 'env', value: 'prod' },
      { share_id: 's2', key: 'team', value: 'edge' },
      { share_id: 's1', key: 'tier', value: '1' },
    ]);
    assert.deepEqual(
      [...tags],
      [
        ['s1', { env: 'prod', tier: '1' }],
        ['s2', { team: 'edge' }],
      ],
    );
  });

  test('groupBy: given rows in order, when grouped, then the order inside each group is kept', () => {
    assert.deepEqual(
      [...groupBy([1, 2, 3, 4, 5], (n) => n % 2)],
      [
        [1, [1, 3, 5]],
        [0, [2, 4]],
      ],
    );
  });

  test('recipientCounts: given counts for one of two shares, when assembled, then the other share has zeros', () => {
    const counts = recipientCounts(['s1', 's2'], [{ share_id: 's1', status: 'associated', n: 3 }]);
    assert.deepEqual(counts.get('s1'), {
      associating: 0,
      associated: 3,
      disassociating: 0,
      disassociated: 0,
    });
    assert.deepEqual(counts.get('s2'), {
      associating: 0,
      associated: 0,
      disassociating: 0,
      disassociated: 0,
    });
  });
});
