/**
 * Part 1 of the scale run: list and object latency on a seeded store, from one sequential keep-alive
 * client (one request at a time, so each figure is a pure answer time, not queueing). Every cell cycles
 * over several accounts (or shares) so neither the store's caches nor the server's favour one answer,
 * and the first answers' total_count is checked against what the seed's layout implies.
 */
import { JsonClient, percentile } from './client.js';
import type { ScaleConfig } from './scale-config.js';
import { ms, type Report, type StoreKind } from './scale-report.js';
import type { Seeded } from './scale-seed.js';
import { tallies, type Tally } from './scale-expected.js';

const PER_PAGE = 100;
const LIST_P99_MS = 20;
const OBJECT_P99_MS = 5;

interface ListPage {
  result: { id: string; account_id: string }[];
  result_info: { total_count: number; total_pages: number };
}

/** One account-list variant: its query and the total_count the seed's layout gives an account. */
interface Variant {
  label: string;
  query: string;
  expected: (t: Tally) => number;
}

// Every seeded share is active, with its one recipient associated.
const all = (t: Tally) => t.sent + t.received;
const VARIANTS: Variant[] = [
  { label: 'no kind', query: '', expected: all },
  { label: 'kind=sent', query: 'kind=sent', expected: (t) => t.sent },
  { label: 'kind=received', query: 'kind=received', expected: (t) => t.received },
  { label: 'tag=env=prod', query: `tag=${encodeURIComponent('env=prod')}`, expected: (t) => t.prod },
  { label: 'order=name&direction=desc', query: 'order=name&direction=desc', expected: all },
  {
    label: 'status=active&include_resources=true',
    query: 'status=active&include_resources=true',
    expected: all,
  },
];

export interface MatrixResult {
  cells: { name: string; samples: number; p50ms: number; p99ms: number; maxMs: number; target: number }[];
  counts: { list: string; expected: number[]; got: number[] }[];
}

const pageOf = (path: string, page: number) =>
  `${path}${path.includes('?') ? '&' : '?'}per_page=${PER_PAGE}&page=${page}`;

export async function runMatrix(
  url: string,
  seeded: Seeded,
  config: ScaleConfig['matrix'],
  report: Report,
  store: StoreKind,
): Promise<MatrixResult> {
  const client = new JsonClient(url, seeded.token, 1);
  const result: MatrixResult = { cells: [], counts: [] };
  const n = seeded.account_ids.length;
  const indices = spread(n, config.accounts);
  const accounts = indices.map((j) => seeded.account_ids[j] as string);
  const counts = tallies(seeded.layout, n, seeded.shares, indices);

  /** Measures one cell: warm-up, then up to `samples` requests (bounded in time), cycling over `paths`. */
  const cell = async (name: string, paths: string[], targetMs: number) => {
    const times: number[] = [];
    const started = performance.now();
    // Warm-up gets a quarter of the cell's time at most: on a slow list it would otherwise eat it all.
    let warm = 0;
    for (let i = 0; times.length < config.samples; i++) {
      const path = paths[i % paths.length] as string;
      const res = await client.send('GET', path);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      const elapsed = performance.now() - started;
      if (warm < config.warmup && elapsed < config.cellBoundMs / 4) warm++;
      else times.push(res.ms);
      if (elapsed > config.cellBoundMs && times.length > 0) break;
    }
    const p99 = percentile(times, 99);
    const p50 = percentile(times, 50);
    const max = Math.max(...times);
    result.cells.push({ name, samples: times.length, p50ms: p50, p99ms: p99, maxMs: max, target: targetMs });
    report.figure(
      store,
      name,
      `p99 ${ms(p99)} (p50 ${ms(p50)}, max ${ms(max)}, n=${times.length})`,
      `p99 < ${targetMs} ms`,
      p99 < targetMs,
    );
  };

  /** First answers of a list: checks total_count and gives the page count (the same for every path). */
  const firstPages = async (list: string, paths: string[], expected: number[]) => {
    const got: number[] = [];
    let pages = 1;
    for (const path of paths) {
      const res = await client.send<ListPage>('GET', pageOf(path, 1));
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      got.push(res.body.result_info.total_count);
      pages = Math.max(pages, Math.ceil(res.body.result_info.total_count / PER_PAGE));
    }
    result.counts.push({ list, expected, got });
    const wrong = got.flatMap((g, i) => (g === expected[i] ? [] : [`${g} where ${expected[i]} was due`]));
    if (wrong.length > 0) report.mismatch(store, `${list}: total_count ${wrong.join(', ')}`);
    return pages;
  };

  /** The first, middle and last page cells of one list. */
  const pagedCells = async (label: string, paths: string[], expected: number[]) => {
    const pages = await firstPages(label, paths, expected);
    const middle = Math.max(1, Math.ceil(pages / 2));
    for (const [which, page] of [
      ['first', 1],
      ['middle', middle],
      ['last', pages],
    ] as const) {
      await cell(
        `${label}, ${which} page (${page}/${pages})`,
        paths.map((p) => pageOf(p, page)),
        LIST_P99_MS,
      );
    }
  };

  try {
    for (const v of VARIANTS) {
      const paths = accounts.map((a) => `/client/v4/accounts/${a}/shares${v.query ? `?${v.query}` : ''}`);
      await pagedCells(`account list, ${v.label}`, paths, counts.map(v.expected));
    }
    await pagedCells(
      'organization list',
      [`/client/v4/organizations/${seeded.organization_id}/shares`],
      [seeded.shares],
    );
    const checks = result.counts.flatMap((c) => c.got.map((g, i) => g === c.expected[i]));
    const exact = checks.filter(Boolean).length;
    report.figure(
      store,
      'total_count exact (first answers of every list)',
      `${exact}/${checks.length}`,
      'all exact',
      exact === checks.length,
      exact === checks.length ? 'exact' : 'MISMATCH',
    );

    const shares = await sentShares(client, accounts, config.shares);
    await cell('GET share', shares, OBJECT_P99_MS);
    await cell(
      'share recipients list',
      shares.map((s) => `${s}/recipients`),
      OBJECT_P99_MS,
    );
    await cell(
      'share resources list',
      shares.map((s) => `${s}/resources`),
      OBJECT_P99_MS,
    );
  } finally {
    client.close();
  }
  return result;
}

/** `count` indices spread evenly over 0..n-1 (first, last and between), so cells see different accounts. */
function spread(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * (n - 1)) / (count - 1 || 1)));
}

/** Paths of `count` shares sent by the given accounts (from their first sent pages), interleaved by owner. */
async function sentShares(client: JsonClient, accounts: string[], count: number): Promise<string[]> {
  const perAccount: string[][] = [];
  for (const a of accounts) {
    const path = `/client/v4/accounts/${a}/shares?kind=sent&per_page=${PER_PAGE}`;
    const res = await client.send<ListPage>('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    perAccount.push(
      res.body.result
        .slice(0, Math.ceil(count / accounts.length))
        .map((s) => `/client/v4/accounts/${a}/shares/${s.id}`),
    );
  }
  const longest = Math.max(0, ...perAccount.map((p) => p.length));
  const paths = Array.from({ length: longest }, (_, i) => perAccount.flatMap((p) => p[i] ?? [])).flat();
  if (paths.length === 0) throw new Error('no sent shares found for the object cells');
  return paths;
}
