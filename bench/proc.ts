import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

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

/** CPU time (user + system) a process has used so far, in ms; NaN where /proc is not available. */
export function cpuMsOf(pid: number): number {
  try {
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / CLOCK_TICKS) * 1000;
  } catch {
    return Number.NaN;
  }
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
