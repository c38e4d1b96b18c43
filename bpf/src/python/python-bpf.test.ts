// The kernel's Python frame walk, on Debian's CPython, when its layout is wrong: the code
// object's type check stops every walk and counts it, and no sample carries a misread frame.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { StackSnapshotProfiler } from '../snapshot.js';
import { ensureBpfBuilt, startPythonWorkload, SYSTEM_PYTHON } from '../testing/workloads.js';
import { findPythonRuntime } from './process.js';

const noPython = existsSync(SYSTEM_PYTHON) ? false : `${SYSTEM_PYTHON} is missing (tools/setup.sh installs python3)`;
const skip = bpfTestSkip() || (process.env.CI === 'true' ? false : noPython);

describe('Python frame walk in the kernel', { skip }, () => {
  before(() => ensureBpfBuilt());

  it('a wrong layout (f_code read from frame_obj) is caught by the code type check, never read', async () => {
    const w = startPythonWorkload(['cpu', '1.5', '300000']);
    await new Promise((r) => setTimeout(r, 300));
    const found = findPythonRuntime(w.pid);
    assert.ok(
      found && !('refused' in found),
      `Debian's python3 not recognised (${found && 'refused' in found ? found.refused : 'not found'})`,
    );
    let samples = 0;
    let withFrames = 0;
    const prof = new StackSnapshotProfiler({
      onSnapshot: (s) => {
        samples++;
        if (s.pyFrames.length) withFrames++;
      },
      python: { find: () => ({ ...found, offsets: { ...found.offsets, frameCode: found.offsets.frameCode + 8 } }) },
    });
    prof.start([w.pid], { frequency: 200 });
    let cut = 0;
    try {
      w.go();
      await w.done;
    } finally {
      cut = prof.stop().lost.pythonWalksCut;
    }
    console.log(`wrong layout: ${samples} samples, ${withFrames} with Python frames, ${cut} walks cut`);
    assert.ok(samples > 20, `only ${samples} samples`);
    assert.equal(withFrames, 0);
    assert.ok(cut >= samples * 0.9, `${cut} walks cut of ${samples} samples`);
  });
});
