/**
 * The CPU time and context switches of processes over time (summed), read from /proc every
 * `everyMs`, so a test can ask what they got inside a window known only later (a task's schedule).
 */
import { readdirSync, readFileSync } from 'node:fs';

interface Reading {
  /** Wall clock, ms since the epoch. */
  at: number;
  cpuMs: number;
  switches: number;
}

export interface ProcMeter {
  /** CPU time (ms) and context switches (all threads) inside [fromMs, toMs], interpolated. */
  within(fromMs: number, toMs: number): { cpuMs: number; switches: number };
  stop(): void;
}

const read = (pids: number[]): Reading => {
  const one = pids.map(readOne);
  return { at: Date.now(), cpuMs: one.reduce((s, r) => s + r.cpuMs, 0), switches: one.reduce((s, r) => s + r.switches, 0) };
};

const readOne = (pid: number): Omit<Reading, 'at'> => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime + stime in USER_HZ (100 on every Linux ABI the project supports).
  const cpuMs = (Number(f[11]) + Number(f[12])) * 10;
  let switches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) switches += Number(m[1]);
  }
  return { cpuMs, switches };
};

export const startProcMeter = (pid: number | number[], everyMs = 100): ProcMeter => {
  const pids = typeof pid === 'number' ? [pid] : pid;
  const readings: Reading[] = [read(pids)];
  const timer = setInterval(() => {
    try {
      readings.push(read(pids));
    } catch {
      clearInterval(timer); // the process exited: its last reading stands
    }
  }, everyMs);
  const at = (t: number, key: 'cpuMs' | 'switches'): number => {
    const i = readings.findIndex((r) => r.at >= t);
    if (i <= 0) return readings[i === 0 ? 0 : readings.length - 1]![key];
    const a = readings[i - 1]!;
    const b = readings[i]!;
    return a[key] + ((b[key] - a[key]) * (t - a.at)) / Math.max(1, b.at - a.at);
  };
  return {
    within: (fromMs, toMs) => ({ cpuMs: at(toMs, 'cpuMs') - at(fromMs, 'cpuMs'), switches: at(toMs, 'switches') - at(fromMs, 'switches') }),
    stop: () => clearInterval(timer),
  };
};
