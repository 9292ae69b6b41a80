import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { anchorsOf, brokenReason, linksOf, slug, type Link } from './support/markdown-links.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(new URL('../docs/', import.meta.url))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const read = (page: string) => readFileSync(new URL(`../${page}`, import.meta.url), 'utf8');
const broken = (links: Link[]) =>
  links.flatMap((link) => {
    const why = brokenReason(root, link);
    return why === undefined ? [] : [`${link.from}:${link.line} (${link.target}): ${why}`];
  });

describe('docs links', () => {
  it('given the README and every page of docs/, when each relative link is followed, then its file and heading exist', () => {
    assert.ok(pages.length > 1, 'the README and at least one page of docs/');
    const links = pages.flatMap((page) => linksOf(read(page), page));
    const relative = links.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target));
    assert.ok(relative.length >= pages.length, `relative links found: ${relative.length}`);
    assert.ok(
      relative.some((l) => l.target.includes('#')),
      'at least one link names a heading',
    );
    assert.deepEqual(broken(links), []);
  });

  it('given the README, when its links are read, then every page of docs/ is linked from it', () => {
    const linked = new Set(linksOf(read('README.md'), 'README.md').map((l) => l.target.split('#')[0]));
    const pagesOfDocs = pages.filter((p) => p.startsWith('docs/'));
    assert.ok(pagesOfDocs.length > 0);
    assert.deepEqual(
      pagesOfDocs.filter((p) => !linked.has(p)),
      [],
    );
  });
});

describe('brokenReason', () => {
  const from = 'docs/page.md';
  const check = (target: string) => brokenReason(root, { from, line: 1, target });

  it('given a link to a missing file, when checked, then it names the missing path', () => {
    assert.equal(check('no-such-page.md'), 'no-such-page.md does not exist');
  });

  it('given a link to an existing page and a heading it lacks, when checked, then it names the anchor and the page', () => {
    assert.equal(check('../README.md#no-such-heading'), 'no heading #no-such-heading in README.md');
  });

  it('given links to an existing page, its heading, and a folder, when checked, then they resolve', () => {
    assert.equal(check('../README.md#quick-start'), undefined);
    assert.equal(check('../src/lib'), undefined);
    assert.equal(check('https://example.invalid/not-checked'), undefined);
  });

  it('given a link out of the repository, when checked, then it is refused', () => {
    assert.equal(check('../../outside.md'), '../../outside.md leaves the repository');
  });
});

describe('linksOf', () => {
  it('given links in prose, in code spans and in fences, when read, then only the prose ones count, with their lines', () => {
    const page = [
      'See [a](a.md) and ![b](b.png "title").',
      'Not `[c](c.md)`.',
      '```md',
      '[d](d.md)',
      '```',
      '[ref]: e.md#x',
    ].join('\n');
    assert.deepEqual(
      linksOf(page, 'p.md').map((l) => [l.line, l.target]),
      [
        [1, 'a.md'],
        [1, 'b.png'],
        [6, 'e.md#x'],
      ],
    );
  });
});

describe('slug and anchorsOf', () => {
  it("given headings with punctuation, code and repeats, when slugged, then the anchors are GitHub's", () => {
    assert.equal(
      slug('Production PostgreSQL: PgBouncer and failover'),
      'production-postgresql-pgbouncer-and-failover',
    );
    assert.equal(
      slug('The emulator controls: the admin API under `/_rshare`'),
      'the-emulator-controls-the-admin-api-under-_rshare',
    );
    assert.equal(slug('Deployment: PostgreSQL and several nodes'), 'deployment-postgresql-and-several-nodes');
    assert.equal(slug('See [the docs](x.md) — now'), 'see-the-docs--now');
    const anchors = anchorsOf(
      ['# Setup', '## Setup', '```sh', '# not a heading', '```', '### Setup'].join('\n'),
    );
    assert.deepEqual([...anchors], ['setup', 'setup-1', 'setup-2']);
  });
});
