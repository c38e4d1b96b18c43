/**
 * On-CPU profiling: the CPU clock samples the processes' threads every dump period (upstream's
 * `profiling.task.on_cpu.dump_period`, 9 ms); each stack counts its samples (`dumpCount`).
 */
import { OnCpuProfiler } from '@swlite/bpf';
import { ProgramType } from '@swlite/libbpf-ts';
import type { ProfilingConfig } from '../../../config';
import type { StackSampler } from '../../stack-sampler';
import { SnapshotOnCpuSampler } from '../../unwind/snapshot-samplers';
import { stackTarget } from '../stack-target';

const periodNs = (config: ProfilingConfig): number => Math.round(config.task.onCpu.dumpPeriodMs * 1_000_000);

const framePointerSampler = (periodNs: number): StackSampler => {
  const profiler = new OnCpuProfiler();
  return {
    start: (tgids) => profiler.start(tgids, { periodNs }),
    addTarget: (t) => profiler.addTarget(t),
    removeTarget: (t) => profiler.removeTarget(t),
    drain: () => profiler.drain(),
    stop: () => profiler.stop(),
  };
};

export const onCpu = stackTarget({
  programTypes: [ProgramType.PERF_EVENT],
  samplers: (config, onPython) => ({
    fp: () => framePointerSampler(periodNs(config)),
    dwarf: (symbolizer) =>
      new SnapshotOnCpuSampler(symbolizer, periodNs(config), {
        python: { enabled: config.python, ...(onPython ? { onPython } : {}) },
      }),
  }),
  payload: (stack) => ({ onCPU: { stacks: stack.parts, dumpCount: stack.count } }),
  continuousReport: { targetTask: 'onCPU', onCPU: {} },
});
