import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type * as Rshare from '../src/index.js';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  name: string;
  exports: Record<string, { types: string; default: string }>;
};

describe('package exports', () => {
  it('given the built package, when a suite imports it by name, then startRshare and its types are there', async () => {
    const main = pkg.exports['.'];
    assert.ok(main, 'exports["."]');
    // `npm install` builds dist/ (the prepare script); a suite that installed rshare imports it like this.
    assert.ok(existsSync(new URL(main.default, root)), `${main.default} (run npm run build)`);
    const types = readFileSync(new URL(main.types, root), 'utf8');
    assert.match(types, /export declare function startRshare\(options\?: StartOptions\): Promise<Rshare>/);
    assert.match(types, /export interface Rshare \{/);
    const mod = (await import(pkg.name)) as typeof Rshare;
    assert.equal(typeof mod.startRshare, 'function');
    const r = await mod.startRshare();
    try {
      const res = await fetch(`${r.baseURL}/user/tokens/verify`);
      assert.equal(res.status, 400); // the real API answered (no credentials)
    } finally {
      await r.close();
    }
  });
});
