/**
 * The figures of a scale run: each is printed as it is measured, beside its target and a met/MISSED
 * verdict, and again at the end in one table with a column per store. Targets are reported, never
 * enforced: a missed target is a figure, not a failure.
 */
export const STORES = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORES)[number];
export const LABEL: Record<StoreKind, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** `met` is null for a figure without a target; `verdict` overrides met/MISSED (e.g. MISMATCH). */
export interface Cell {
  value: string;
  met: boolean | null;
  verdict?: string;
}
export interface Row {
  section: string;
  name: string;
  target: string;
  cells: Partial<Record<StoreKind, Cell>>;
}

export const fmt = (n: number, digits = 1): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(n);
export const ms = (n: number): string => `${fmt(n, n < 10 ? 2 : 1)} ms`;
export const say = (text: string): void => void process.stdout.write(text);

export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];
  /** What a column shows where it has no figure (the store was skipped, or its run failed). */
  readonly missing: Partial<Record<StoreKind, string>> = {};
  private section = '';
  private readonly started = performance.now();

  constructor(readonly stores: readonly StoreKind[]) {}

  heading(section: string, detail = ''): void {
    this.section = section;
    // Elapsed time on every heading, so a slow part of a bounded run is easy to find.
    const at = `[${fmt((performance.now() - this.started) / 1000, 0)} s]`;
    say(`\n${at} ${section}${detail ? ` (${detail})` : ''}\n`);
  }

  figure(
    store: StoreKind,
    name: string,
    value: string,
    target = '',
    met: boolean | null = null,
    verdict?: string,
  ): void {
    let row = this.rows.find((r) => r.name === name && r.section === this.section);
    if (!row) this.rows.push((row = { section: this.section, name, target, cells: {} }));
    row.cells[store] = { value, met, verdict };
    const shown = verdict ?? (met === null ? '' : met ? 'met' : 'MISSED');
    say(`  ${name}: ${value}${target ? `  [target ${target}]` : ''}${shown ? `  (${shown})` : ''}\n`);
  }

  /** Loud, because a wrong count makes every latency of that list meaningless. */
  mismatch(store: StoreKind, text: string): void {
    const line = `${LABEL[store]}: ${text}`;
    this.notes.push(`MISMATCH ${line}`);
    say(`  !!!!! MISMATCH: ${text}\n`);
  }

  table(): string {
    const cell = (row: Row, store: StoreKind) => {
      const c = row.cells[store];
      if (!c) return this.missing[store] ?? '—';
      const verdict = c.verdict ?? (c.met === null ? '' : c.met ? 'met' : 'MISSED');
      return verdict ? `${c.value} (${verdict})` : c.value;
    };
    const header = ['Measurement', 'Target', ...this.stores.map((s) => LABEL[s])];
    const body: string[][] = [];
    let section = '';
    for (const r of this.rows) {
      if (r.section !== section)
        body.push([`**${(section = r.section)}**`, '', ...this.stores.map(() => '')]);
      body.push([r.name, r.target, ...this.stores.map((s) => cell(r, s))]);
    }
    const table = [header, ...body];
    const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
    return `${out.join('\n')}\n${this.notes.map((n) => `* ${n}\n`).join('')}`;
  }
}
