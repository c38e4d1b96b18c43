/** What a task runner needs from a profiler; the BPF profilers of @swlite/bpf provide it. */
import { OffCpuProfiler, OnCpuProfiler, type DrainResult } from '@swlite/bpf';

export interface StackSampler {
  start(tgids: number[]): void;
  addTarget(tgid: number): void;
  removeTarget(tgid: number): void;
  drain(): DrainResult;
  /** Detaches everything and returns what was left. */
  stop(): DrainResult;
}

export type SamplerFactory = (kind: 'ON_CPU' | 'OFF_CPU') => StackSampler;

/** Real samplers in the kernel; the on-CPU period is upstream's dump period (9 ms). */
export const bpfSamplerFactory =
  (onCpuPeriodMs: number): SamplerFactory =>
  (kind) => {
    if (kind === 'ON_CPU') {
      const profiler = new OnCpuProfiler();
      return {
        start: (tgids) => profiler.start(tgids, { periodNs: Math.round(onCpuPeriodMs * 1_000_000) }),
        addTarget: (t) => profiler.addTarget(t),
        removeTarget: (t) => profiler.removeTarget(t),
        drain: () => profiler.drain(),
        stop: () => profiler.stop(),
      };
    }
    const profiler = new OffCpuProfiler();
    return {
      start: (tgids) => profiler.start(tgids),
      addTarget: (t) => profiler.addTarget(t),
      removeTarget: (t) => profiler.removeTarget(t),
      drain: () => profiler.drain(),
      stop: () => profiler.stop(),
    };
  };
