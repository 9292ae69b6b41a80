import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { LoadConfig, LoadResult } from './loadgen.js';

/** Resident set size of a process in MiB, current and peak (Linux /proc; `ps` elsewhere, no peak). */
export function rssOf(pid: number): { rssMiB: number; peakMiB: number | null } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
  } catch {
    const kb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
    return { rssMiB: kb / 1024, peakMiB: null };
  }
}

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces): [0] is field 3. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU time (user + system) a process has used so far, in ms; NaN where /proc is not available. With
 * `reaped`, plus the time of its children that have exited and been waited for (cutime + cstime).
 */
export function cpuMsOf(pid: number, reaped = false): number {
  try {
    // utime is field 14, stime 15, cutime 16, cstime 17.
    const f = statFields(pid).map(Number);
    const ticks = (f[11] ?? NaN) + (f[12] ?? NaN) + (reaped ? (f[13] ?? NaN) + (f[14] ?? NaN) : 0);
    return (ticks / CLOCK_TICKS) * 1000;
  } catch {
    return Number.NaN;
  }
}

/** The parent of a process (Linux /proc), or undefined. */
export function parentOf(pid: number): number | undefined {
  try {
    const ppid = Number(statFields(pid)[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** The live children of a process (Linux /proc; empty elsewhere). */
export function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  return entries.map(Number).filter((child) => parentOf(child) === pid);
}

/**
 * CPU time (ms) of a process and its children, live or exited (e.g. a PostgreSQL postmaster and its
 * backends, whose time moves into the postmaster's cutime/cstime when they exit). NaN without /proc.
 */
export function treeCpuMsOf(pid: number): number {
  return childrenOf(pid).reduce((sum, child) => sum + (cpuMsOf(child, true) || 0), cpuMsOf(pid, true));
}

/** USER_HZ: 100 on every Linux architecture node supports. */
const CLOCK_TICKS = 100;

/** Forks a TypeScript module of this folder (through tsx) with an IPC channel. */
export function forkTs(module: string): ChildProcess {
  return fork(new URL(module, import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Sends one message to a forked child and waits (bounded) for its one answer. */
export async function ask<T>(child: ChildProcess, message: unknown, timeoutMs: number): Promise<T> {
  const answer = once(child, 'message') as Promise<[T]>;
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`child exited (${String(code)}) without answering`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  child.send(message as object);
  try {
    const [value] = await Promise.race([answer, exited, timeout]);
    return value;
  } finally {
    clearTimeout(timer);
    exited.catch(() => {});
  }
}

/** Kills a forked child if it is still running and waits (bounded) for it. */
export async function end(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

/** One load run in a load-generator process of its own, so the generator never shares the bench's CPU. */
export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const child = forkTs('./loadgen.ts');
  try {
    const answer = await ask<{ ok: boolean; result?: LoadResult; error?: string }>(
      child,
      config,
      config.warmupMs + config.durationMs + 30_000,
    );
    if (!answer.ok || !answer.result) throw new Error(`load generator failed: ${answer.error}`);
    return answer.result;
  } finally {
    await end(child);
  }
}
