/**
 * Builds and runs the C test workloads (libs/testkit/fixtures/workload.c; threads.c for a process
 * with many threads) with frame pointers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_DIR } from './paths';

/** Compiles a fixture under a unique executable name, so discovery can single it out. */
export const buildWorkload = (name: string, source: 'workload.c' | 'threads.c' = 'workload.c'): string => {
  const out = join(mkdtempSync(join(tmpdir(), 'swlite-workload-')), name);
  execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-g', '-pthread', '-o', out, join(FIXTURES_DIR, source)]);
  return out;
};

export interface Workload {
  child: ChildProcess;
  pid: number;
  /** Resolves with stdout when the workload exits. */
  done: Promise<string>;
  /** Stdout so far. */
  output(): string;
}

export const runWorkload = (binary: string, mode: 'cpu' | 'block', seconds: number): Workload => {
  const child = spawn(binary, [mode, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
  return { child, pid: child.pid!, done, output: () => out };
};

interface Interval {
  name: string;
  /** Wall clock, ns since the epoch. */
  start: number;
  end: number;
  /** Thread CPU time the call took (cpu mode only). */
  cpuNs?: number;
}

/** The intervals a workload wrote to stdout ("name start_ns end_ns [cpu_ns]" per line). */
const intervals = (output: string): Interval[] =>
  output.split('\n').flatMap((line) => {
    const [name, start, end, cpu] = line.trim().split(/\s+/);
    if (!name || !start || !end) return [];
    return [{ name, start: Number(start), end: Number(end), cpuNs: cpu === undefined ? undefined : Number(cpu) }];
  });

/** Per function, the blocked nanoseconds of intervals fully inside [fromMs, toMs]. */
export const blockedWithin = (output: string, fromMs: number, toMs: number): Map<string, number> => {
  const totals = new Map<string, number>();
  for (const { name, start, end } of intervals(output)) {
    if (start / 1e6 >= fromMs && end / 1e6 <= toMs) totals.set(name, (totals.get(name) ?? 0) + (end - start));
  }
  return totals;
};

/**
 * Per function, the CPU nanoseconds its calls took inside [fromMs, toMs] (cpu mode): a call
 * across an edge counts for the share of its wall time inside.
 */
export const cpuWithin = (output: string, fromMs: number, toMs: number): Map<string, number> => {
  const totals = new Map<string, number>();
  for (const { name, start, end, cpuNs } of intervals(output)) {
    if (cpuNs === undefined || end <= start) continue;
    const inside = Math.min(end, toMs * 1e6) - Math.max(start, fromMs * 1e6);
    if (inside > 0) totals.set(name, (totals.get(name) ?? 0) + (cpuNs * inside) / (end - start));
  }
  return totals;
};

/** Sum of a per-function map of nanoseconds, in ms. */
export const sumMs = (ns: Map<string, number>): number => [...ns.values()].reduce((s, x) => s + x, 0) / 1e6;

/** The CPU time of each printed call of `fn`, in ms. */
export const callCpuMs = (output: string, fn: string): number[] =>
  intervals(output).flatMap((i) => (i.name === fn && i.cpuNs !== undefined ? [i.cpuNs / 1e6] : []));
