// On-CPU profiling in the real kernel: a workload burns CPU in hot_a and hot_b (3:1) and makes
// write(2) calls; 3 s at the default period (9 ms); the hot_a:hot_b sample ratio must be within
// 10% of the CPU-time ratio the workload measured (3:1 by design) and the write path must show
// kernel frames.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { OnCpuProfiler } from './index.js';
import { compileWorkload, ensureBpfBuilt, ExeSymbols, Kallsyms, startWorkload } from './testing/workloads.js';

const skip = bpfTestSkip();

describe('OnCpuProfiler', { skip }, () => {
  let exe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('oncpu_workload');
  });

  for (const scope of ['thread', 'cpu'] as const) {
    it(`scope ${scope}: hot_a:hot_b is the CPU-time ratio (3:1) within 10%, and write(2) shows kernel frames`, async () => {
      const prof = new OnCpuProfiler();
      prof.start([], { scope }); // default period: 9 ms
      const wl = startWorkload(exe, ['3']);
      let syms: ExeSymbols;
      let out: string;
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
      const mid = prof.drain();
      const rest = prof.stop();
      const stacks = [...mid.stacks, ...rest.stacks];
      const ksyms = new Kallsyms();

      const byLeaf = new Map<string, number>();
      const writeKernelFrames = new Map<string, number>();
      let total = 0;
      for (const s of stacks) {
        assert.equal(s.tgid, wl.pid);
        total += s.count;
        const leaf = s.userStack[0] === undefined ? '(none)' : (syms.lookup(s.userStack[0]) ?? '(other)');
        byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + s.count);
        if (leaf === 'sys_part' && s.kernelStack.length > 0) {
          for (const a of s.kernelStack) {
            const name = ksyms.lookup(a) ?? '?';
            writeKernelFrames.set(name, (writeKernelFrames.get(name) ?? 0) + s.count);
          }
        }
      }
      const a = byLeaf.get('hot_a') ?? 0;
      const b = byLeaf.get('hot_b') ?? 0;
      const ratio = a / b;
      console.log(
        `on-CPU (${scope}): ${total} samples, ${stacks.length} stacks; by user leaf: ${JSON.stringify(Object.fromEntries(byLeaf))}; ` +
          `hot_a:hot_b = ${a}:${b} = ${ratio.toFixed(3)}; lost: ${JSON.stringify(mid.lost)}`,
      );
      const topK = [...writeKernelFrames.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12);
      console.log(`kernel frames under sys_part: ${topK.map(([n, c]) => `${n}:${c}`).join(' ')}`);
      const cpuMs = Number(/cpu_ns=(\d+)/.exec(out)?.[1] ?? 0) / 1e6;
      // Ground truth measured by the workload (thread CPU time in each function).
      const trueRatio = Number(/hot_a_ns=(\d+)/.exec(out)?.[1]) / Number(/hot_b_ns=(\d+)/.exec(out)?.[1]);
      console.log(`workload's own CPU-time ratio hot_a:hot_b = ${trueRatio.toFixed(3)}`);
      console.log(
        `workload CPU ${cpuMs.toFixed(0)} ms -> expected ~${(cpuMs / 9).toFixed(0)} samples at 9 ms, got ${total}`,
      );
      assert.ok(total > 150, `expected > 150 samples in 3 s at 9 ms, got ${total}`);
      assert.ok(Math.abs(total - cpuMs / 9) / (cpuMs / 9) < 0.15, 'sample count does not match CPU time / period');
      // Both scopes must agree with the workload's own measurement within 10%. That measurement is
      // 3:1 in iterations, but the CPU an iteration takes moves with what the other hyperthread
      // runs on a loaded host: it is only checked to be near 3 (the workload works as designed).
      assert.ok(Math.abs(trueRatio - 3) / 3 <= 0.2, `the workload's own CPU-time ratio ${trueRatio} is not near 3`);
      assert.ok(
        Math.abs(ratio - trueRatio) / trueRatio <= 0.1,
        `hot_a:hot_b ratio ${ratio} not within 10% of the measured ${trueRatio}`,
      );
      assert.ok(
        [...writeKernelFrames.keys()].some((n) => /write/.test(n)),
        `no kernel frame with "write" under sys_part: ${topK.map(([n]) => n).join(', ')}`,
      );
      assert.equal(mid.lost.aggregationFull + mid.lost.stackCollisions + mid.lost.missingStacks, 0);
    });
  }
});
