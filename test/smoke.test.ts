import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call, seedShareBody, setup } from './helpers.js';

test('smoke', async () => {
  const h = await setup();
  const created = await call(h.app, 'POST', base(), { body: seedShareBody() });
  console.log(JSON.stringify(created.body, null, 1));
  assert.equal(created.status, 201);
  const list = await call(h.app, 'GET', base());
  console.log(JSON.stringify(list.body));
  const bad = await call(h.app, 'POST', base(), { body: { name: '', recipients: [], resources: [] } });
  console.log(JSON.stringify(bad.body));
  const bad2 = await call(h.app, 'GET', base() + '?per_page=500');
  console.log(JSON.stringify(bad2.body));
  await h.close();
});
