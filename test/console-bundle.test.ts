/**
 * The console shares the server's wire types and resource-type list by importing them from `src/`, types
 * only: the browser bundle must hold none of the server's code. Store-independent: runs on SQLite only.
 */
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { describe, it } from 'node:test';
import { ROOT } from './support/process.js';

/** The modules esbuild puts in the console's script, as `npm run build` bundles it. */
async function bundledInputs(): Promise<string[]> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['console/main.tsx'],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs).sort();
}

describe('the console bundle', () => {
  it('given the console source, when bundled, then it holds the console, the resource-type list and browser libraries only', async () => {
    const inputs = await bundledInputs();
    assert.ok(
      inputs.includes('src/lib/resource-types.ts'),
      'the built-in resource types come from src/lib, not a copy',
    );
    assert.ok(inputs.some((f) => f.startsWith('console/')));
    const allowed =
      /^(console\/|src\/lib\/resource-types\.ts$|node_modules\/(preact|@cfworker\/json-schema)\/)/;
    assert.deepEqual(
      inputs.filter((f) => !allowed.test(f)),
      [],
    );
  });
});
