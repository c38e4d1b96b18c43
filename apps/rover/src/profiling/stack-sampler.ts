/**
 * What a stack target needs from a sampler (the BPF profilers of @swlite/bpf and the snapshot
 * samplers of unwind/ provide it). A leaf module: the samplers and what chooses among them both
 * import it, and neither imports the other through it.
 */
import type { DrainResult } from '@swlite/bpf';

export interface StackSampler {
  start(tgids: number[]): void;
  addTarget(tgid: number): void;
  removeTarget(tgid: number): void;
  drain(): DrainResult;
  /** Detaches everything and returns what was left. */
  stop(): DrainResult;
}

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
