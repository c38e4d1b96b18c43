/**
 * Off-CPU profiling: every switch-out of the processes' threads (sched_switch, tp_btf or the
 * tracepoint) until the switch-in; each stack counts its switches and the time spent blocked.
 */
import { OffCpuProfiler } from '@swlite/bpf';
import { ProgramType } from '@swlite/libbpf-ts';
import { SnapshotOffCpuSampler } from '../../unwind/snapshot-samplers';
import { stackTarget } from '../stack-target';

export const offCpu = stackTarget({
  programTypes: [ProgramType.TRACING, ProgramType.TRACEPOINT],
  samplers: (config, onPython) => ({
    fp: () => new OffCpuProfiler(),
    dwarf: (symbolizer) =>
      new SnapshotOffCpuSampler(symbolizer, { python: { enabled: config.python, ...(onPython ? { onPython } : {}) } }),
  }),
  payload: (stack) => ({ offCPU: { stacks: stack.parts, switchCount: stack.count, duration: stack.durationNs } }),
  continuousReport: { targetTask: 'offCPU', offCPU: {} },
});
