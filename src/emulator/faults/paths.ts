import { apiPath } from '../../http/paths.js';

/** Why a glob is not one we match, or undefined when it is fine. */
export function globError(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with "/"';
  for (const segment of pattern.split('/')) {
    if (segment.includes('*') && segment !== '*' && segment !== '**')
      return 'segments must be *, ** or text without *';
  }
  return undefined;
}

export type PathMatcher = (path: string) => boolean;

const segmentsOf = (path: string) => path.split('/').filter((s) => s !== '');

/**
 * A path glob: `*` is one segment, `**` any number of them (none included), other segments match
 * literally. Both the pattern and the path are taken after `/client/v4`. A dozen lines of segment-wise
 * matching, so no dependency: picomatch matches file paths (dotfiles, braces, extglobs, `*` within a
 * segment), more than this contract asks and with other edge cases than a URL path has.
 */
export function compileGlob(pattern: string): PathMatcher {
  const glob = segmentsOf(apiPath(pattern));
  return (path) => {
    const parts = segmentsOf(apiPath(path));
    // reach[j]: the glob's segments so far match the first j path segments (no backtracking: a
    // pattern of many `**` costs segments × segments, never exponential time).
    let reach = [true, ...parts.map(() => false)];
    for (const g of glob) {
      const next = reach.map(() => false);
      let any = false;
      for (let j = 0; j <= parts.length; j++) {
        if (g === '**') next[j] = any ||= reach[j] === true;
        else if (j > 0) next[j] = reach[j - 1] === true && (g === '*' || g === parts[j - 1]);
      }
      reach = next;
    }
    return reach[parts.length] === true;
  };
}
