/** Builds and runs the C test workload (fixtures/workload.c) with frame pointers. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './processes';

/** Compiles the workload under a unique executable name, so discovery can single it out. */
export const buildWorkload = (name: string): string => {
  const out = join(mkdtempSync(join(tmpdir(), 'swlite-workload-')), name);
  execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-g', '-pthread', '-o', out, join(REPO_ROOT, 'e2e', 'fixtures', 'workload.c')]);
  return out;
};

export interface Workload {
  child: ChildProcess;
  pid: number;
  /** Resolves with stdout when the workload exits. */
  done: Promise<string>;
}

export const runWorkload = (binary: string, mode: 'cpu' | 'block', seconds: number): Workload => {
  const child = spawn(binary, [mode, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
  return { child, pid: child.pid!, done };
};

/** Per function, the blocked nanoseconds of intervals fully inside [fromMs, toMs]. */
export const blockedWithin = (output: string, fromMs: number, toMs: number): Map<string, number> => {
  const totals = new Map<string, number>();
  for (const line of output.split('\n')) {
    const [name, start, end] = line.trim().split(/\s+/);
    if (!name || !start || !end) continue;
    const s = Number(start) / 1e6;
    const e = Number(end) / 1e6;
    if (s >= fromMs && e <= toMs) totals.set(name, (totals.get(name) ?? 0) + (Number(end) - Number(start)));
  }
  return totals;
};
