// The kernel's Python frame walk, on Debian's CPython, when its layout is wrong: the code
// object's type check stops every walk and counts it, and no sample carries a misread frame.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { StackSnapshotProfiler } from '../snapshot.js';
import {
  ensureBpfBuilt,
  pythonWorkloadPath,
  startPythonWorkload,
  startWorkload,
  SYSTEM_PYTHON,
} from '../testing/workloads.js';
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

  // Debian ships 3.11 only; CPython builds of later versions (pyenv's) are used when present.
  const pyenv = `${process.env.HOME ?? '/root'}/.pyenv/versions`;
  for (const minor of ['3.12', '3.13']) {
    const dir = existsSync(pyenv)
      ? readdirSync(pyenv)
          .filter((d) => d.startsWith(`${minor}.`))
          .sort()
          .pop()
      : undefined;
    const exe = dir ? `${pyenv}/${dir}/bin/python${minor}` : undefined;
    it(
      `CPython ${minor}: the table's layout reads the frames (eval calls marked by their shims)`,
      { skip: !exe && `no CPython ${minor} build here` },
      async () => {
        const w = startWorkload(exe!, [pythonWorkloadPath, 'cpu', '1.5', '300000']);
        await new Promise((r) => setTimeout(r, 400));
        const shapes = new Map<string, number>();
        let samples = 0;
        const prof = new StackSnapshotProfiler({
          onSnapshot: (s) => {
            samples++;
            const k = (s.python ?? []).map((f) => `${f.name}${f.entry ? '*' : ''}`).join(' < ');
            shapes.set(k, (shapes.get(k) ?? 0) + 1);
          },
        });
        prof.start([w.pid], { frequency: 200 });
        let cut = 0;
        try {
          w.go();
          await w.done;
        } finally {
          cut = prof.stop().lost.pythonWalksCut;
        }
        const hot = (fn: string) => shapes.get(`${fn} < Worker.run_round < main < <module>*`) ?? 0;
        console.log(
          `CPython ${minor}: ${samples} samples, ${cut} walks cut, ${JSON.stringify(Object.fromEntries(shapes))}`,
        );
        assert.equal(cut, 0);
        assert.ok(
          hot('hot_a') + hot('hot_b') >= samples * 0.8,
          `hot_a/hot_b stacks: ${hot('hot_a') + hot('hot_b')} of ${samples}`,
        );
      },
    );
  }
});
