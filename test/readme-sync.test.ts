import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('README', () => {
  it('given the test-suite example, when compared with test/readme-example.test.ts, then they are the same code', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Using rshare in test suites'));
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, 'the section has a TypeScript example');
    const test = read('test/readme-example.test.ts')
      .split('\n')
      .filter((line) => !line.startsWith('//'))
      .join('\n')
      .replace("from '../src/index.js';", "from 'rshare';");
    assert.equal(test, example);
  });
});
