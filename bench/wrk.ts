/**
 * `wrk` as a second, independent load generator (C, event loop, far cheaper per request than any Node
 * client), so a ratio does not depend on one generator's own limits. Installed from Debian when missing;
 * when that fails the run says so and goes on without it.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkConfig {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
}

export interface WrkResult {
  rps: number;
  requests: number;
  /** Answers outside 2xx/3xx, and socket errors (connect, read, write, timeout) summed. */
  non2xx: number;
  socketErrors: number;
  p50ms: number;
  p99ms: number;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** The wrk binary, installing Debian's package when missing; a reason string when it cannot. */
export function ensureWrk(say: (text: string) => void): { ok: true } | { ok: false; why: string } {
  if (has('wrk')) return { ok: true };
  if (!has('apt-get')) return { ok: false, why: 'wrk is not installed and there is no apt-get' };
  say('  wrk missing: apt-get install -y wrk\n');
  const install = () =>
    spawnSync('apt-get', ['install', '-y', 'wrk'], { encoding: 'utf8', timeout: 180_000 });
  let result = install();
  if (result.status !== 0) {
    // A fresh container often has no package lists yet.
    say('  apt-get install failed; apt-get update, then again\n');
    spawnSync('apt-get', ['update'], { encoding: 'utf8', timeout: 180_000 });
    result = install();
  }
  if (result.status === 0 && has('wrk')) return { ok: true };
  const tail = `${result.stderr ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
  return { ok: false, why: `apt-get install -y wrk failed (${tail || `exit ${String(result.status)}`})` };
}

/** A Lua long string, with a level of `=` the text does not contain, so any body is sent verbatim. */
function luaString(text: string): string {
  let eq = '';
  while (text.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${text}]${eq}]`;
}

/** The request as a wrk script (an index holds spaces: `t[[[k]]]` would parse as a call with a string). */
function script(config: WrkConfig): string {
  const lines = [`wrk.method = ${luaString(config.method)}`];
  for (const [k, v] of Object.entries(config.headers))
    lines.push(`wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`);
  if (config.body !== undefined) {
    lines.push(`wrk.headers["Content-Type"] = "application/json"`);
    lines.push(`wrk.body = ${luaString(config.body)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** wrk's latency figures (`1.23ms`, `456.00us`, `1.02s`) in ms. */
function toMs(value: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value ?? '');
  if (!m) return Number.NaN;
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(m[1]) * scale;
}

/** One wrk run (1 thread), its figures parsed from the text it prints. `track` gets its kill switch. */
export async function runWrk(
  config: WrkConfig,
  track: (kill: (() => void) | undefined) => void,
): Promise<WrkResult> {
  if (new URL(config.url).hostname !== '127.0.0.1') throw new Error('wrk only loads 127.0.0.1');
  const dir = mkdtempSync(join(tmpdir(), 'rshare-wrk-'));
  try {
    const file = join(dir, 'request.lua');
    writeFileSync(file, script(config));
    const args = [
      '-t1',
      `-c${config.connections}`,
      `-d${config.seconds}s`,
      '--latency',
      '-s',
      file,
      config.url,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile('wrk', args, { timeout: (config.seconds + 20) * 1000 }, (err, out, errText) => {
        if (err) reject(new Error(`wrk failed: ${err.message} ${errText}`));
        else resolve(out);
      });
      track(() => child.kill('SIGKILL'));
    });
    track(undefined);
    const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    return {
      rps: num(/Requests\/sec:\s+([\d.]+)/),
      requests: num(/(\d+) requests in/),
      non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      p50ms: toMs(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1]),
      p99ms: toMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1]),
    };
  } finally {
    track(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
