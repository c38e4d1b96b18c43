// Stack snapshot mode in the real kernel, on a workload built WITHOUT frame pointers: every
// sample arrives as a ring buffer record with user registers and a copy of the user stack that
// holds the return address into the caller (what a CFI unwinder needs).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { onCpuRingBytes, StackSnapshotProfiler } from './index.js';
import { assertJudgeable, checkCount, countBound, ratioTolerance, samplesToJudge } from './testing/sampling.js';
import {
  compileWorkload,
  ensureBpfBuilt,
  ExeSymbols,
  Kallsyms,
  startWorkload,
  workloadFigure,
} from './testing/workloads.js';

const skip = bpfTestSkip();

describe('StackSnapshotProfiler', { skip }, () => {
  let exe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('oncpu_workload', ['-O2', '-fomit-frame-pointer', '-g']);
  });

  it('emits registers + user stack copies; leaf and caller found; nothing lost', async () => {
    const prof = new StackSnapshotProfiler();
    prof.start([], { frequency: 1000, userStackBytes: 8192 });
    const wl = startWorkload(exe, ['2', '120000000', '400000', '2']);
    let syms: ExeSymbols;
    let out: string;
    const t0 = Date.now();
    try {
      prof.addTarget(wl.pid);
      wl.go();
      await new Promise((r) => setTimeout(r, 200));
      syms = ExeSymbols.forProcess(exe, wl.pid);
      out = await wl.done;
    } catch (e) {
      prof.stop();
      throw e;
    }
    const { snapshots, lost } = prof.stop();
    const { records, bytes } = prof.consumed;
    const ksyms = new Kallsyms();
    const leaf = new Map<string, number>();
    let withCaller = 0;
    let hot = 0;
    let kernelSamples = 0;
    let kernelWrite = 0;
    for (const s of snapshots) {
      assert.equal(s.tgid, wl.pid);
      const name = syms.lookup(s.regs.ip) ?? '(other)';
      leaf.set(name, (leaf.get(name) ?? 0) + 1);
      if (s.kernelStack.length) {
        kernelSamples++;
        if (s.kernelStack.some((a) => /write/.test(ksyms.lookup(a) ?? ''))) kernelWrite++;
      }
      if (name !== 'hot_a' && name !== 'hot_b') continue;
      hot++;
      // hot_a/hot_b are leaf functions without a frame: the return address into `worker` is
      // within the first words of the copied stack.
      for (let off = 0; off + 8 <= Math.min(64, s.userStack.length); off += 8) {
        if (syms.lookup(s.userStack.readBigUInt64LE(off)) === 'worker') {
          withCaller++;
          break;
        }
      }
    }
    const ratio = (leaf.get('hot_a') ?? 0) / (leaf.get('hot_b') ?? 1);
    console.log(
      `snapshots: ${records} records, ${bytes} bytes (${(bytes / Math.max(1, records)).toFixed(0)} bytes/sample); ` +
        `lost ${JSON.stringify(lost)}; leaf ${JSON.stringify(Object.fromEntries(leaf))}; hot_a:hot_b ${ratio.toFixed(2)}; ` +
        `caller found in ${withCaller}/${hot} hot samples; kernel stacks ${kernelSamples} (${kernelWrite} with a write frame)`,
    );
    // One record per ms of CPU the workload got (not a fixed floor: the machine may be busy).
    const cpuMs = workloadFigure(out, 'cpu_ns') / 1e6;
    assertJudgeable('stack snapshots at 1 kHz', {
      cpuMs,
      wallMs: Date.now() - t0,
      periodMs: 1,
      needSamples: samplesToJudge(0.2),
    });
    const bad = checkCount('snapshot records', records, countBound(cpuMs, { relative: 0.05 }));
    assert.equal(bad, null, bad ?? '');
    assert.equal(records, snapshots.length);
    assert.equal(lost.ringBufferFull, 0);
    assert.equal(lost.droppedInUserSpace, 0);
    assert.equal(lost.samples, records, 'every sample became a record');
    assert.ok(withCaller >= hot * 0.95, `caller return address found in ${withCaller}/${hot}`);
    assert.ok(kernelWrite > 0, 'no kernel write frames');
    // Judged against the CPU time the workload measured in each function (its 3:1 is in
    // iterations, whose cost moves with what the other hyperthread runs), within the noise of
    // the two counts.
    const trueRatio = workloadFigure(out, 'hot_a_ns') / workloadFigure(out, 'hot_b_ns');
    const tolerance = ratioTolerance(leaf.get('hot_a') ?? 0, leaf.get('hot_b') ?? 0, 0.1);
    assert.ok(
      Math.abs(ratio - trueRatio) / trueRatio <= tolerance,
      `hot_a:hot_b ${ratio.toFixed(3)} not within ${(tolerance * 100).toFixed(0)}% of the workload's measured ${trueRatio.toFixed(3)}`,
    );
  });
});

describe('onCpuRingBytes', () => {
  it('is 2 MiB per possible CPU, a power of two within [4, 64] MiB', () => {
    const mib = (cpus: number) => onCpuRingBytes(cpus) / (1 << 20);
    assert.deepEqual([1, 2, 3, 4, 8, 12, 32, 64, 256].map(mib), [4, 4, 8, 8, 16, 32, 64, 64, 64]);
  });
});
