import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (CI installs it: .ci/run); never a browser downloaded by an npm package. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless, and nothing that reaches past loopback (this machine's network is closed). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The skip reason of a browser test: none when Chromium is there, or in CI (where its absence fails). */
export function chromiumSkip(what: string): string | false {
  if (existsSync(CHROMIUM) || process.env.CI) return false;
  return `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium); ${what} needs it, and CI fails without it`;
}

export async function launchChromium(timeoutMs = 30_000): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `CI is set but there is no Chromium at ${CHROMIUM}`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: timeoutMs });
}
