import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isId, newId, timeOrderedUuid } from '../src/lib/ids.js';

/** The first 48 bits of a version 7 UUID: Unix milliseconds. */
const millisOf = (id: string) => parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('newId', () => {
  test('given a new id, then it is 32 lowercase hex digits with the UUID version 7 and variant bits', () => {
    const id = newId();
    assert.ok(isId(id), id);
    assert.equal(id[12], '7', id);
    assert.match(id[16] ?? '', /^[89ab]$/, id);
  });

  test('given ids made now, then each carries the millisecond it was made in, so later ids sort later', () => {
    const before = Date.now();
    const ids = Array.from({ length: 1000 }, () => newId());
    const after = Date.now();
    for (const id of ids) {
      assert.ok(millisOf(id) >= before && millisOf(id) <= after, `${id} outside ${before}..${after}`);
    }
    // A millisecond apart or more, the order of the ids is the order of their making.
    const earlier = `${(before - 1).toString(16).padStart(12, '0')}${'f'.repeat(20)}`;
    assert.ok(ids.every((id) => id > earlier));
  });

  test('given ids made across many refills of the random pool, then no two are the same', () => {
    // 16 random bytes per id from a 4 KiB pool: 20,000 ids refill it 78 times.
    const ids = Array.from({ length: 20_000 }, () => newId());
    assert.equal(new Set(ids).size, ids.length);
    // The random part alone differs too (ids made in one millisecond differ only there).
    assert.equal(new Set(ids.map((id) => id.slice(13))).size, ids.length);
  });
});

describe('timeOrderedUuid', () => {
  test('given a new audit id, then it is a dashed version 7 UUID of now', () => {
    const before = Date.now();
    const id = timeOrderedUuid();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(millisOf(id) >= before && millisOf(id) <= Date.now());
  });
});
