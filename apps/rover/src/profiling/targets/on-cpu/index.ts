/**
 * On-CPU profiling: the CPU clock samples the processes' threads every dump period (upstream's
 * `profiling.task.on_cpu.dump_period`, 9 ms); each stack counts its samples (`dumpCount`).
 * Processes are sampled per thread while their threads stay within
 * `profiling.task.on_cpu.thread_sampling_max_threads` in total, per CPU beyond (@swlite/bpf
 * PerfSampler says why).
 */
import { OnCpuProfiler, type ScopeOptions } from '@swlite/bpf';
import { ProgramType } from '@swlite/libbpf-ts';
import type { ProfilingConfig } from '../../../config';
import type { StackSampler } from '../../stack-sampler';
import { SnapshotOnCpuSampler } from '../../unwind/snapshot-samplers';
import { stackTarget } from '../stack-target';

const periodNs = (config: ProfilingConfig): number => Math.round(config.task.onCpu.dumpPeriodMs * 1_000_000);

const scopeOf = (config: ProfilingConfig): ScopeOptions => ({
  scope: 'auto',
  maxThreadEvents: config.task.onCpu.threadSamplingMaxThreads,
});

const framePointerSampler = (periodNs: number, scope: ScopeOptions): StackSampler => {
  const profiler = new OnCpuProfiler();
  return {
    start: (tgids) => profiler.start(tgids, { periodNs, ...scope }),
    addTarget: (t) => profiler.addTarget(t),
    removeTarget: (t) => profiler.removeTarget(t),
    drain: () => profiler.drain(),
    stop: () => profiler.stop(),
  };
};

export const onCpu = stackTarget({
  programTypes: [ProgramType.PERF_EVENT],
  samplers: (config, onPython) => ({
    fp: () => framePointerSampler(periodNs(config), scopeOf(config)),
    dwarf: (symbolizer) =>
      new SnapshotOnCpuSampler(symbolizer, periodNs(config), {
        ...scopeOf(config),
        python: { enabled: config.python, ...(onPython ? { onPython } : {}) },
      }),
  }),
  payload: (stack) => ({ onCPU: { stacks: stack.parts, dumpCount: stack.count } }),
  continuousReport: { targetTask: 'onCPU', onCPU: {} },
});
