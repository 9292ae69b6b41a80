/**
 * Throughput comparisons taken in alternating rounds (A B, then B A, …), so a burst of outside load on
 * this shared machine does not favour one side; each side's best round is what is compared.
 */
import type { LoadResult } from './loadgen.js';
import { fmt, ms } from './scale-report.js';
import type { WrkResult } from './wrk.js';

export interface Measured {
  rps: number;
  p50ms: number;
  p99ms: number;
  /** Answers with an unexpected status, plus transport errors. */
  bad: number;
}

export interface Contender {
  name: string;
  run: () => Promise<Measured>;
  /** Runs after each of this side's rounds (e.g. waiting for the reconciler to drain its backlog). */
  after?: () => Promise<void>;
}

export const fromLoad = (r: LoadResult): Measured => ({
  rps: r.rps,
  p50ms: r.p50ms,
  p99ms: r.p99ms,
  bad: r.errors + r.non200,
});

export const fromWrk = (r: WrkResult): Measured => ({
  rps: r.rps,
  p50ms: r.p50ms,
  p99ms: r.p99ms,
  bad: r.non2xx + r.socketErrors,
});

export async function alternate(
  contenders: Contender[],
  rounds: number,
  warn: (text: string) => void,
): Promise<Record<string, Measured[]>> {
  const out: Record<string, Measured[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      const m = await c.run();
      if (m.bad > 0) warn(`  ! ${c.name}: ${m.bad} errors or unexpected statuses\n`);
      out[c.name]?.push(m);
      await c.after?.();
    }
  }
  return out;
}

export function best(list: Measured[] | undefined): Measured {
  const [first, ...rest] = list ?? [];
  if (!first) return { rps: Number.NaN, p50ms: Number.NaN, p99ms: Number.NaN, bad: 0 };
  return rest.reduce((a, b) => (b.rps > a.rps ? b : a), first);
}

export const describe = (m: Measured): string =>
  `${fmt(m.rps, 0)} req/s (p50 ${ms(m.p50ms)}, p99 ${ms(m.p99ms)})${m.bad > 0 ? `, ${m.bad} bad` : ''}`;

/**
 * The verdict of a ratio: met/MISSED against the target, but INVALID when either side had errors or
 * unexpected statuses, since then it counts something other than the answers it claims to.
 */
export function ratioVerdict(
  ratio: number,
  target: number,
  sides: Measured[],
): { met: boolean; verdict?: string } {
  if (sides.some((m) => m.bad > 0)) return { met: false, verdict: 'INVALID: errors' };
  return { met: ratio >= target };
}
