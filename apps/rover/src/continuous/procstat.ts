/** Process and system values from /proc for the continuous profiling checks. */
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on every Linux build we target). */
const CLOCK_TICKS = 100;

export interface ProcStat {
  /** utime + stime, in ticks. */
  cpuTicks: number;
  threads: number;
}

export const readProcStat = (pid: number, root = '/proc'): ProcStat => {
  const text = readFileSync(`${root}/${pid}/stat`, 'latin1');
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const threads = Number(rest[17]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(threads)) {
    throw new Error(`cannot parse ${root}/${pid}/stat`);
  }
  return { cpuTicks: utime + stime, threads };
};

export const readLoad1 = (root = '/proc'): number => Number(readFileSync(`${root}/loadavg`, 'latin1').split(' ')[0]);

/**
 * CPU percent of one core between two samples (100 = one core busy for the whole interval).
 * (gopsutil, which upstream uses, averages over the process's lifetime; a per-interval value
 * reacts to a process that starts misbehaving now.)
 */
export const cpuPercent = (prev: { ticks: number; atMs: number }, now: { ticks: number; atMs: number }): number | null => {
  const dt = (now.atMs - prev.atMs) / 1000;
  if (dt <= 0) return null;
  return (((now.ticks - prev.ticks) / CLOCK_TICKS) / dt) * 100;
};
