import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The relative links of Markdown pages and whether each resolves: the file (or folder) exists and a
 * `#anchor` names a heading of the target page, by GitHub's slug rules.
 */

export interface Link {
  /** The page holding the link, relative to the root. */
  from: string;
  line: number;
  target: string;
}

/**
 * Fenced blocks hold examples, not links or headings: blanked so nothing in them is read. Code spans are
 * blanked too for links; a heading keeps them, since GitHub's slug keeps their text.
 */
function proseLines(markdown: string, codeSpans: 'blank' | 'keep'): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && open !== undefined) {
      fence = open;
      return '';
    }
    if (fence !== undefined) {
      if (line.trim().startsWith(fence)) fence = undefined;
      return '';
    }
    return codeSpans === 'keep' ? line : line.replace(/(`+)[\s\S]*?\1/g, (code) => ' '.repeat(code.length));
  });
}

/** Inline links and images `[text](target "title")` and reference definitions `[label]: target`. */
export function linksOf(markdown: string, from: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown, 'blank').forEach((text, i) => {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ from, line: i + 1, target: m[1] as string });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text);
    if (definition) links.push({ from, line: i + 1, target: definition[1] as string });
  });
  return links;
}

/** GitHub's heading slug: lower case, punctuation and symbols dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text stays, its target goes
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a page offers; a repeated heading gets `-1`, `-2`, … as on GitHub. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown, 'keep')) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/**
 * Why a link does not resolve, or undefined when it does. Links with a scheme (`https:`, `mailto:`) leave
 * the repository and are not checked.
 */
export function brokenReason(root: string, link: Link): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined;
  const [rawPath = '', anchor] = link.target.split('#', 2);
  const path = decodeURIComponent(rawPath);
  const file = path === '' ? join(root, link.from) : join(root, dirname(link.from), path);
  if (relative(root, file).startsWith('..')) return `${path} leaves the repository`;
  if (!existsSync(file)) return `${path} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md'))
    return `#${anchor} on a file that is not Markdown`;
  const anchors = anchorsOf(readFileSync(file, 'utf8'));
  return anchors.has(anchor) ? undefined : `no heading #${anchor} in ${relative(root, file)}`;
}
