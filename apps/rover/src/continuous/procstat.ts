/** Process and system values from /proc for the continuous profiling checks. */
import { CLOCK_TICKS_PER_SECOND, ProcFs, statFields } from '../process/procfs';

export interface ProcStat {
  /** utime + stime, in ticks. */
  cpuTicks: number;
  threads: number;
}

/** utime, stime, num_threads */
const FIELDS = [14, 15, 20] as const;
const defaultProc = new ProcFs();
const procAt = (root: string): ProcFs => (root === defaultProc.root ? defaultProc : new ProcFs(root));

/**
 * One /proc/PID/stat read gives both per-process values (CPU ticks and num_threads), so every
 * process item of a check shares it; ProcFs reads it into a reused buffer (no fstat, no Buffer
 * per file) and statFields makes strings of the three fields only, which matters at one read
 * per watched process per second.
 */
export const readProcStat = (pid: number, root = '/proc'): ProcStat => {
  const path = `${root}/${pid}/stat`;
  const text = procAt(root).readText(path);
  if (text === undefined) throw new Error(`cannot read ${path}`);
  const f = statFields(text, FIELDS);
  const [utime, stime, threads] = [Number(f?.[0]), Number(f?.[1]), Number(f?.[2])];
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(threads)) {
    throw new Error(`cannot parse ${path}`);
  }
  return { cpuTicks: utime + stime, threads };
};

export const readLoad1 = (root = '/proc'): number => {
  const path = `${root}/loadavg`;
  const text = procAt(root).readText(path);
  if (text === undefined) throw new Error(`cannot read ${path}`);
  return Number(text.slice(0, text.indexOf(' ')));
};

/**
 * CPU percent of one core between two samples (100 = one core busy for the whole interval).
 * (gopsutil, which upstream uses, averages over the process's lifetime; a per-interval value
 * reacts to a process that starts misbehaving now.)
 */
export const cpuPercent = (
  prev: { ticks: number; atMs: number },
  now: { ticks: number; atMs: number },
): number | null => {
  const dt = (now.atMs - prev.atMs) / 1000;
  if (dt <= 0) return null;
  return ((now.ticks - prev.ticks) / CLOCK_TICKS_PER_SECOND / dt) * 100;
};
