/**
 * A stack target's raw sampler, for tools that sample without a task (the benchmarks, the
 * fidelity corpus): the target is found in the registry, the sampler picked by unwind mode.
 * rover's tasks do not come through here; they start targets (targets/registry.ts).
 */
import type { ProfilingTargetType } from '@swlite/protocol';
import type { Symbolizer } from '@swlite/symbolizer';
import { loadConfig, type ProfilingConfig } from '../config';
import type { StackSampler, UnwindMode } from './stack-sampler';
import { TARGET_MODULES } from './targets/registry';
import { isStackTargetModule } from './targets/stack-target';

export type { StackSampler, UnwindMode } from './stack-sampler';

export type SamplerFactory = (type: ProfilingTargetType) => StackSampler;

export interface BpfSamplerOptions {
  unwind?: UnwindMode;
  /** Needed for `dwarf`/`auto` (the unwind tables come with the symbol tables). */
  symbolizer?: Symbolizer;
  /** Called once when `auto` falls back to `fp` (with the reason). */
  onFallback?: (type: ProfilingTargetType, err: Error) => void;
  /** Read Python frames (default: rover's default, true). */
  python?: boolean;
}

/** Real samplers in the kernel, rover's default settings but this on-CPU period (upstream's dump period, 9 ms). */
export const bpfSamplerFactory = (onCpuPeriodMs: number, opts: BpfSamplerOptions = {}): SamplerFactory => {
  const defaults = loadConfig({ env: {} }).profiling;
  const config: ProfilingConfig = {
    ...defaults,
    ...(opts.python !== undefined ? { python: opts.python } : {}),
    task: { ...defaults.task, onCpu: { ...defaults.task.onCpu, dumpPeriodMs: onCpuPeriodMs } },
  };
  return (type) => {
    const module = TARGET_MODULES[type];
    if (!isStackTargetModule(module)) throw new Error(`${type} profiling does not sample stacks`);
    const { onFallback } = opts;
    return module.sampler(config, {
      unwind: opts.unwind,
      symbolizer: opts.symbolizer,
      onFallback: onFallback && ((err) => onFallback(type, err)),
    });
  };
};
