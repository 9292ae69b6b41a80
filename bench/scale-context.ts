import type { ScaleConfig } from './scale-config.js';
import type { Report, StoreKind } from './scale-report.js';

/** What every part of a scale run gets for one store. */
export interface ScaleContext {
  store: StoreKind;
  config: ScaleConfig;
  report: Report;
  /** This store's section of bench/scale-results.json. */
  results: Record<string, unknown>;
  /**
   * Registers an emergency stop under `key` (a child process to kill, a folder to remove) for the abort
   * path, or clears it with undefined once the thing is gone.
   */
  track: (key: string, stop: (() => void) | undefined) => void;
}
