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
  /** Machine-wide ticks (all CPUs, /proc/stat): the hypervisor's steal, and all non-idle time. */
  stealTicks: number;
  busyTicks: number;
}

export interface ProcMeter {
  /**
   * CPU time (ms) and context switches (all threads) inside [fromMs, toMs], interpolated, and the
   * share of the machine's busy time that the hypervisor stole meanwhile. A CPU-clock sampler
   * fires on wall time, so a vCPU stolen while the workload is current still samples it, while
   * the workload's CPU time leaves that time out: its samples exceed CPU time / period by up to
   * stealShare / (1 − stealShare).
   */
  within(fromMs: number, toMs: number): { cpuMs: number; switches: number; stealShare: number };
  stop(): void;
}

const read = (pids: number[]): Reading => {
  const one = pids.map(readOne);
  return {
    at: Date.now(),
    cpuMs: one.reduce((s, r) => s + r.cpuMs, 0),
    switches: one.reduce((s, r) => s + r.switches, 0),
    ...machineTicks(),
  };
};

/** /proc/stat's first line: user nice system idle iowait irq softirq steal … */
export const machineTicks = (): { stealTicks: number; busyTicks: number } => {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const stealTicks = steal ?? 0;
  return {
    stealTicks,
    busyTicks: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + stealTicks,
  };
};

const readOne = (pid: number): Pick<Reading, 'cpuMs' | 'switches'> => {
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
  const at = (t: number, key: 'cpuMs' | 'switches' | 'stealTicks' | 'busyTicks'): number => {
    const i = readings.findIndex((r) => r.at >= t);
    if (i <= 0) return readings[i === 0 ? 0 : readings.length - 1]![key];
    const a = readings[i - 1]!;
    const b = readings[i]!;
    return a[key] + ((b[key] - a[key]) * (t - a.at)) / Math.max(1, b.at - a.at);
  };
  return {
    within: (fromMs, toMs) => {
      const busy = at(toMs, 'busyTicks') - at(fromMs, 'busyTicks');
      return {
        cpuMs: at(toMs, 'cpuMs') - at(fromMs, 'cpuMs'),
        switches: at(toMs, 'switches') - at(fromMs, 'switches'),
        stealShare: busy > 0 ? Math.min(0.9, (at(toMs, 'stealTicks') - at(fromMs, 'stealTicks')) / busy) : 0,
      };
    },
    stop: () => clearInterval(timer),
  };
};

/** Starts counting the machine's stolen time: the returned function gives the share stolen since. */
export const stealSince = (): (() => number) => {
  const a = machineTicks();
  return () => {
    const b = machineTicks();
    const busy = b.busyTicks - a.busyTicks;
    return busy > 0 ? Math.min(0.9, (b.stealTicks - a.stealTicks) / busy) : 0;
  };
};
