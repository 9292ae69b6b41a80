import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_TIMEOUTS, type ServerTimeouts } from './limits.js';

/** The `serve` flags for the server timeouts, as commander parses them. */
export interface TimeoutFlags {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

function milliseconds(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError('expected milliseconds (an integer; 0 turns the timeout off)');
  return Number(value);
}

const FLAGS = {
  headers: ['headersMs', 'a request’s headers must arrive within this (slow clients are cut off)'],
  request: ['requestMs', 'a whole request, headers and body, must arrive within this'],
  'keep-alive': ['keepAliveMs', 'an idle kept-alive connection is closed after this'],
} as const;

/** `--headers-timeout-ms` (RSHARE_HEADERS_TIMEOUT_MS) and its siblings; 0 turns one off. */
export function timeoutOption(which: keyof typeof FLAGS): Option {
  const [key, description] = FLAGS[which];
  return new Option(`--${which}-timeout-ms <ms>`, description)
    .env(`RSHARE_${which.replace('-', '_').toUpperCase()}_TIMEOUT_MS`)
    .default(DEFAULT_TIMEOUTS[key])
    .argParser(milliseconds);
}

export function timeoutsFrom(flags: TimeoutFlags): ServerTimeouts {
  return {
    headersMs: flags.headersTimeoutMs,
    requestMs: flags.requestTimeoutMs,
    keepAliveMs: flags.keepAliveTimeoutMs,
  };
}
