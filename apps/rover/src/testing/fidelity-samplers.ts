/**
 * Rover's on-CPU samplers as the fidelity corpus of @swlite/testkit compares them: the kernel's
 * frame-pointer walk and CFI-unwound stack snapshots, on the same processes at the same time.
 * The shape is testkit's FidelitySamplerFactory (matched structurally: rover does not depend on
 * testkit outside its tests). Public as `@swlite/rover/testing` for e2e's fidelity test.
 */
import type { Symbolizer } from '@swlite/symbolizer';
import { bpfSamplerFactory } from '../profiling/sampler';
import { medianUnwindUs, type SnapshotOnCpuSampler } from '../profiling/unwind/snapshot-samplers';

export const fidelitySamplers = (periodMs: number, symbolizer: Symbolizer) => {
  const fp = bpfSamplerFactory(periodMs, { unwind: 'fp' })('ON_CPU');
  // `dwarf` never falls back to fp, so the ON_CPU sampler is the snapshot one.
  const cfi = bpfSamplerFactory(periodMs, { unwind: 'dwarf', symbolizer })('ON_CPU') as SnapshotOnCpuSampler;
  return {
    fp,
    cfi,
    cfiTiming: () => ({
      medianUs: medianUnwindUs(cfi.stats),
      meanUs: cfi.stats.snapshots ? cfi.stats.unwindNs / cfi.stats.snapshots / 1000 : NaN,
      fpChosen: cfi.stats.fpChosen,
    }),
  };
};
