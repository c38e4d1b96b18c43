// Test support: run a workload in rounds of fresh processes until they got enough CPU for a
// sample count to be judged, so a busy machine makes a test longer instead of wrong.
import type { RunningWorkload } from './workloads.js';

export interface RoundsOptions {
  /** Spawns the processes of one round (waiting for their start line). */
  spawn: () => RunningWorkload[];
  /** Called for each process before it starts working (attach the profiler here). */
  attach: (w: RunningWorkload) => void;
  /** Called once the round's processes work (e.g. read their memory maps). */
  working?: (ws: RunningWorkload[]) => Promise<void> | void;
  /** The CPU time a process reported at exit, in ms. */
  cpuMsOf: (output: string) => number;
  /** Stop starting rounds once this much CPU was had ... */
  wantCpuMs: number;
  /** ... or once this much wall time passed. */
  deadlineMs: number;
}

export interface RoundsResult {
  /** Every process run, with what it printed. */
  runs: { pid: number; output: string }[];
  cpuMs: number;
  wallMs: number;
}

export async function runRounds(o: RoundsOptions): Promise<RoundsResult> {
  const t0 = Date.now();
  const runs: RoundsResult['runs'] = [];
  let cpuMs = 0;
  do {
    const ws = o.spawn();
    for (const w of ws) o.attach(w);
    for (const w of ws) w.go();
    await o.working?.(ws);
    const outputs = await Promise.all(ws.map((w) => w.done));
    ws.forEach((w, i) => {
      runs.push({ pid: w.pid, output: outputs[i]! });
      cpuMs += o.cpuMsOf(outputs[i]!);
    });
  } while (cpuMs < o.wantCpuMs && Date.now() - t0 < o.deadlineMs);
  return { runs, cpuMs, wallMs: Date.now() - t0 };
}
