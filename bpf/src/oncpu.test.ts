// On-CPU profiling in the real kernel: a workload burns CPU in hot_a and hot_b (3:1) and makes
// write(2) calls, sampled at the default period (9 ms). Each function's sample count must be what
// its CPU time (measured by the workload) makes at that period, within sampling noise; so must the
// hot_a:hot_b ratio; and the write path must show kernel frames. On a busy machine the workload
// runs in further rounds until it had enough CPU for these bounds to be tight.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { OnCpuProfiler, type ProfiledStack } from './index.js';
import { runRounds } from './testing/rounds.js';
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
const PERIOD_MS = 9;

describe('OnCpuProfiler', { skip }, () => {
  let exe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('oncpu_workload');
  });

  for (const scope of ['thread', 'cpu'] as const) {
    it(`scope ${scope}: hot_a and hot_b sampled as their CPU time (3:1) makes, and write(2) shows kernel frames`, async () => {
      const prof = new OnCpuProfiler();
      prof.start([], { scope }); // default period: 9 ms
      // Enough samples that the noise bound on the whole count is within 20% of it.
      const needSamples = samplesToJudge(0.2);
      const syms = new Map<number, ExeSymbols>();
      const stacks: ProfiledStack[] = [];
      let rounds;
      let lost;
      try {
        rounds = await runRounds({
          spawn: () => [startWorkload(exe, ['3'])],
          attach: (w) => prof.addTarget(w.pid),
          working: async (ws) => {
            await new Promise((r) => setTimeout(r, 200));
            for (const w of ws) syms.set(w.pid, ExeSymbols.forProcess(exe, w.pid));
          },
          cpuMsOf: (out) => workloadFigure(out, 'cpu_ns') / 1e6,
          wantCpuMs: needSamples * PERIOD_MS,
          deadlineMs: 45_000,
        });
        const mid = prof.drain();
        stacks.push(...mid.stacks);
        lost = mid.lost;
      } finally {
        stacks.push(...prof.stop().stacks);
      }
      const ksyms = new Kallsyms();
      const byLeaf = new Map<string, number>();
      const writeKernelFrames = new Map<string, number>();
      let total = 0;
      for (const s of stacks) {
        const exeSyms = syms.get(s.tgid);
        assert.ok(exeSyms, `a stack of pid ${s.tgid}, which is no workload`);
        total += s.count;
        const leaf = s.userStack[0] === undefined ? '(none)' : (exeSyms.lookup(s.userStack[0]) ?? '(other)');
        byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + s.count);
        if (leaf === 'sys_part' && s.kernelStack.length > 0) {
          for (const a of s.kernelStack) {
            const name = ksyms.lookup(a) ?? '?';
            writeKernelFrames.set(name, (writeKernelFrames.get(name) ?? 0) + s.count);
          }
        }
      }
      const { cpuMs, wallMs, runs } = rounds;
      // Ground truth measured by the workload: thread CPU time in each function.
      const aMs = runs.reduce((s, r) => s + workloadFigure(r.output, 'hot_a_ns') / 1e6, 0);
      const bMs = runs.reduce((s, r) => s + workloadFigure(r.output, 'hot_b_ns') / 1e6, 0);
      const a = byLeaf.get('hot_a') ?? 0;
      const b = byLeaf.get('hot_b') ?? 0;
      const topK = [...writeKernelFrames.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12);
      console.log(
        `on-CPU (${scope}): ${runs.length} runs in ${(wallMs / 1000).toFixed(1)} s, workload CPU ${cpuMs.toFixed(0)} ms ` +
          `(hot_a ${aMs.toFixed(0)}, hot_b ${bMs.toFixed(0)}) -> ${(cpuMs / PERIOD_MS).toFixed(0)} samples expected, got ${total}; ` +
          `by user leaf: ${JSON.stringify(Object.fromEntries(byLeaf))}; lost: ${JSON.stringify(lost)}`,
      );
      console.log(`kernel frames under sys_part: ${topK.map(([n, c]) => `${n}:${c}`).join(' ')}`);
      assertJudgeable(`on-CPU (${scope})`, { cpuMs, wallMs, periodMs: PERIOD_MS, needSamples });
      // 5% on top of the noise: samples while a thread starts or exits and vCPU time stolen by
      // the hypervisor; one sample per round for each function's segment cut by a round's end.
      for (const [what, got, ms] of [
        ['all', total, cpuMs],
        ['hot_a', a, aMs],
        ['hot_b', b, bMs],
      ] as const) {
        const bad = checkCount(
          `${scope} ${what}`,
          got,
          countBound(ms / PERIOD_MS, { relative: 0.05, absolute: runs.length }),
        );
        assert.equal(bad, null, bad ?? '');
      }
      // The ratio too, within its own noise (at least 10%). The workload's 3:1 is in iterations;
      // the CPU an iteration takes moves with what the other hyperthread runs on a loaded host, so
      // its own measurement is only checked to be near 3 (the workload works as designed).
      const trueRatio = aMs / bMs;
      const tolerance = ratioTolerance(a, b, 0.1);
      assert.ok(Math.abs(trueRatio - 3) / 3 <= 0.2, `the workload's own CPU-time ratio ${trueRatio} is not near 3`);
      assert.ok(
        Math.abs(a / b - trueRatio) / trueRatio <= tolerance,
        `hot_a:hot_b ratio ${(a / b).toFixed(3)} not within ${(tolerance * 100).toFixed(0)}% of the measured ${trueRatio.toFixed(3)}`,
      );
      assert.ok(
        [...writeKernelFrames.keys()].some((n) => /write/.test(n)),
        `no kernel frame with "write" under sys_part: ${topK.map(([n]) => n).join(', ')}`,
      );
      assert.equal(lost!.aggregationFull + lost!.stackCollisions + lost!.missingStacks, 0);
    });
  }
});
