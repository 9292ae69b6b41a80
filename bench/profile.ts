/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, and the
 * rshare functions (src/) with the most inclusive time. Usable alone: `node --import tsx bench/profile.ts FILE`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function frameName(node: ProfileNode): string {
  // Line numbers are left out: under tsx they point into the transformed code, not the source.
  const { functionName, url } = node.callFrame;
  const where = url.replace(/^file:\/\//, '').replace(ROOT, '');
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/** Where a frame's code lives: a src/ file, an npm package, node's own JavaScript, or native code. */
function area(node: ProfileNode): string {
  const url = node.callFrame.url.replace(/^file:\/\//, '').replace(ROOT, '');
  if (url === '') return node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : 'native';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  return /^(src|dist)\//.test(url) ? url : 'other';
}

/** Self time (ms) of every frame that ran code of this repository's src/, or 0 if none. */
export function srcTime(path: string): number {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let ms = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node && area(node).startsWith('src/')) ms += (profile.timeDeltas[i] ?? 0) / 1000;
  });
  return ms;
}

export function summarizeProfile(path: string, top = 20): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    total += dt;
    const name = frameName(node);
    if (node.callFrame.functionName === '(idle)') idle += dt;
    self.set(name, (self.get(name) ?? 0) + dt);
    const a = area(node);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur);
      if (!frame) break;
      const key = frameName(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });

  const rows = (entries: [string, number][]) =>
    entries
      .slice(0, top)
      .map(
        ([name, ms]) =>
          `  ${ms.toFixed(0).padStart(7)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${name}`,
      )
      .join('\n');
  const busy = total - idle;
  return [
    `sampled ${total.toFixed(0)} ms, busy ${busy.toFixed(0)} ms, idle ${idle.toFixed(0)} ms`,
    'self time by area:',
    rows([...areas.entries()].sort((a, b) => b[1] - a[1])),
    'top self time:',
    rows([...self.entries()].sort((a, b) => b[1] - a[1])),
    'top inclusive time in src/:',
    rows([...inclusive.entries()].filter(([k]) => / (src|dist)\//.test(k)).sort((a, b) => b[1] - a[1])),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2]) {
  process.stdout.write(`${summarizeProfile(process.argv[2], Number(process.argv[3] ?? 20))}\n`);
}
