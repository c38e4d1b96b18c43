/**
 * Picks a stack target's sampler by unwind mode (see UnwindMode). Knows nothing of the target:
 * each stack target hands over its own pair of constructors, one per way of walking stacks.
 */
import type { PythonTracerOptions } from '@swlite/bpf';
import type { Symbolizer } from '@swlite/symbolizer';
import type { StackSampler, UnwindMode } from '../stack-sampler';

/** One stack target's samplers: frame-pointer stacks from the kernel, or snapshots unwound here. */
export interface SamplerPair {
  fp(): StackSampler;
  dwarf(symbolizer: Symbolizer): StackSampler;
}

export interface UnwindOptions {
  /** Default: `auto` with a symbolizer, `fp` without. */
  unwind?: UnwindMode;
  /** Needed for `dwarf`/`auto` (the unwind tables come with the symbol tables). */
  symbolizer?: Symbolizer;
  /** Called once when `auto` falls back to `fp` (with the reason). */
  onFallback?: (err: Error) => void;
  /** Called for each CPython process profiled (its version read, or refused). */
  onPython?: PythonTracerOptions['onPython'];
}

/** `auto`: the dwarf sampler, replaced by the fp one if it fails to start. */
const autoSampler = (pair: SamplerPair, symbolizer: Symbolizer, onFallback?: (err: Error) => void): StackSampler => {
  let inner = pair.dwarf(symbolizer);
  return {
    start: (tgids) => {
      try {
        inner.start(tgids);
      } catch (e) {
        onFallback?.(e as Error);
        inner = pair.fp();
        inner.start(tgids);
      }
    },
    addTarget: (t) => inner.addTarget(t),
    removeTarget: (t) => inner.removeTarget(t),
    drain: () => inner.drain(),
    stop: () => inner.stop(),
  };
};

export const samplerForMode = (pair: SamplerPair, opts: UnwindOptions = {}): StackSampler => {
  const mode = opts.unwind ?? (opts.symbolizer ? 'auto' : 'fp');
  if (mode === 'fp') return pair.fp();
  if (!opts.symbolizer) throw new Error(`unwind mode ${mode} needs a symbolizer`);
  if (mode === 'dwarf') return pair.dwarf(opts.symbolizer);
  return autoSampler(pair, opts.symbolizer, opts.onFallback);
};
