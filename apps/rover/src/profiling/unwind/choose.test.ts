// unwindSnapshot's choice between the CFI walk and the kernel's frame-pointer walk (pure).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StackSnapshot } from '@swlite/bpf';
import type { Symbolizer } from '@swlite/symbolizer';
import { unwindSnapshot, type UnwindStats } from './snapshot-samplers';

const snap = (fp: bigint[], bytes = 64): StackSnapshot => ({
  tsNs: 1n,
  tgid: 1,
  tid: 1,
  regs: { ip: 0x1000n, sp: 0x7000n, bp: 0n },
  kernelStack: [],
  userStack: Buffer.alloc(bytes),
  userFpStack: fp,
  pyFrames: [],
});
const fakeSym = (cfi: bigint[]) => ({ unwind: () => cfi }) as unknown as Symbolizer;

describe('unwindSnapshot', () => {
  it('keeps the CFI walk when the FP walk disagrees (no frame pointers: FP frames are garbage)', () => {
    const stats: UnwindStats = { snapshots: 0, unwindNs: 0, frames: 0, fpChosen: 0 };
    const cfi = [0x1000n, 0x2000n, 0x3000n];
    assert.deepEqual(
      unwindSnapshot(fakeSym(cfi), snap([0x1000n, 0xdeadn, 0xbeefn, 0xf00dn, 0x1234n]), 127, stats),
      cfi,
    );
    assert.equal(stats.fpChosen, 0);
    assert.equal(stats.snapshots, 1);
    assert.equal(stats.frames, 3);
  });

  it('takes the FP walk when it extends the CFI walk (stack deeper than the copy, frame pointers sound)', () => {
    const stats: UnwindStats = { snapshots: 0, unwindNs: 0, frames: 0, fpChosen: 0 };
    const fp = [0x1000n, 0x2000n, 0x3000n, 0x4000n, 0x5000n];
    assert.deepEqual(unwindSnapshot(fakeSym(fp.slice(0, 3)), snap(fp), 127, stats), fp);
    assert.equal(stats.fpChosen, 1);
  });

  it('without a stack copy: the FP walk, else the bare ip', () => {
    assert.deepEqual(unwindSnapshot(fakeSym([]), snap([0x1000n, 0x2000n], 0)), [0x1000n, 0x2000n]);
    assert.deepEqual(unwindSnapshot(fakeSym([]), snap([], 0)), [0x1000n]);
  });
});
