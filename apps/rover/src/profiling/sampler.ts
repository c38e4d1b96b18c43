/** What a task runner needs from a profiler; the BPF profilers of @swlite/bpf provide it. */
import { OffCpuProfiler, OnCpuProfiler, type DrainResult } from '@swlite/bpf';
import type { Symbolizer } from '@swlite/symbolizer';
import { SnapshotOffCpuSampler, SnapshotOnCpuSampler } from './unwind/snapshot-samplers';

export interface StackSampler {
  start(tgids: number[]): void;
  addTarget(tgid: number): void;
  removeTarget(tgid: number): void;
  drain(): DrainResult;
  /** Detaches everything and returns what was left. */
  stop(): DrainResult;
}

export type SamplerFactory = (kind: 'ON_CPU' | 'OFF_CPU') => StackSampler;

/**
 * How user stacks are walked:
 * - `fp`: the kernel's frame-pointer walk (bpf_get_stackid), aggregated in the kernel. Cheapest;
 *   right only for binaries built with frame pointers (upstream rover's behaviour).
 * - `dwarf`: registers + a copy of the top of the user stack per sample, unwound in user space
 *   with .eh_frame CFI (frame pointers where a region has none, and the kernel's frame-pointer walk
 *   when it extends the CFI walk); aggregated in user space.
 * - `auto`: `dwarf`, and `fp` when the snapshot programs cannot be loaded.
 */
export type UnwindMode = 'auto' | 'fp' | 'dwarf';

export interface BpfSamplerOptions {
  unwind?: UnwindMode;
  /** Needed for `dwarf`/`auto` (the unwind tables come with the symbol tables). */
  symbolizer?: Symbolizer;
  /** Called once when `auto` falls back to `fp` (with the reason). */
  onFallback?: (kind: 'ON_CPU' | 'OFF_CPU', err: Error) => void;
}

const fpSampler = (kind: 'ON_CPU' | 'OFF_CPU', onCpuPeriodMs: number): StackSampler => {
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

const dwarfSampler = (kind: 'ON_CPU' | 'OFF_CPU', onCpuPeriodMs: number, symbolizer: Symbolizer): StackSampler =>
  kind === 'ON_CPU'
    ? new SnapshotOnCpuSampler(symbolizer, Math.round(onCpuPeriodMs * 1_000_000))
    : new SnapshotOffCpuSampler(symbolizer);

/** `auto`: the dwarf sampler, replaced by the fp one if it fails to start. */
const autoSampler = (
  kind: 'ON_CPU' | 'OFF_CPU',
  onCpuPeriodMs: number,
  symbolizer: Symbolizer,
  onFallback?: (kind: 'ON_CPU' | 'OFF_CPU', err: Error) => void,
): StackSampler => {
  let inner = dwarfSampler(kind, onCpuPeriodMs, symbolizer);
  return {
    start: (tgids) => {
      try {
        inner.start(tgids);
      } catch (e) {
        onFallback?.(kind, e as Error);
        inner = fpSampler(kind, onCpuPeriodMs);
        inner.start(tgids);
      }
    },
    addTarget: (t) => inner.addTarget(t),
    removeTarget: (t) => inner.removeTarget(t),
    drain: () => inner.drain(),
    stop: () => inner.stop(),
  };
};

/** Real samplers in the kernel; the on-CPU period is upstream's dump period (9 ms). */
export const bpfSamplerFactory =
  (onCpuPeriodMs: number, opts: BpfSamplerOptions = {}): SamplerFactory =>
  (kind) => {
    const mode = opts.unwind ?? (opts.symbolizer ? 'auto' : 'fp');
    if (mode === 'fp') return fpSampler(kind, onCpuPeriodMs);
    if (!opts.symbolizer) throw new Error(`unwind mode ${mode} needs a symbolizer`);
    if (mode === 'dwarf') return dwarfSampler(kind, onCpuPeriodMs, opts.symbolizer);
    return autoSampler(kind, onCpuPeriodMs, opts.symbolizer, opts.onFallback);
  };
