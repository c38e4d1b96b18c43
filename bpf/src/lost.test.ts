// Lost-sample accounting: at 1 kHz on every CPU with one busy process per CPU, the kernel's
// error counters stay at zero, every sample counted by the program is in the drained stacks, and
// the count is what the CPU time the workloads got makes at 1 kHz. On a busy machine the
// workloads run in further rounds until they had enough CPU to judge the count.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { onlineCpus } from '@swlite/libbpf-ts';
import { OnCpuProfiler, type LostCounters } from './index.js';
import { runRounds } from './testing/rounds.js';
import { assertJudgeable, checkCount, countBound, samplesToJudge } from './testing/sampling.js';
import { compileWorkload, ensureBpfBuilt, startWorkload } from './testing/workloads.js';

const skip = bpfTestSkip();
const PERIOD_MS = 1;

describe('lost samples', { skip }, () => {
  let exe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('oncpu_workload');
  });

  it('zero lost at 1 kHz on all CPUs; drained counts == samples counted == CPU time / period', async () => {
    const prof = new OnCpuProfiler();
    prof.start([], { frequency: 1000 / PERIOD_MS });
    // Enough samples that the noise bound is within 10% of the count.
    const needSamples = samplesToJudge(0.1);
    let drained = 0;
    const lost: LostCounters[] = [];
    const collect = (d: { stacks: { count: number }[]; lost: LostCounters }) => {
      drained += d.stacks.reduce((s, x) => s + x.count, 0);
      lost.push(d.lost);
    };
    let rounds;
    const timer = setInterval(() => collect(prof.drain()), 1000);
    try {
      rounds = await runRounds({
        spawn: () => onlineCpus().map(() => startWorkload(exe, ['3', '16000000', '100000', '1'])),
        attach: (w) => prof.addTarget(w.pid),
        cpuMsOf: (out) => Number(/cpu_ns=(\d+)/.exec(out)?.[1] ?? 0) / 1e6,
        wantCpuMs: needSamples * PERIOD_MS,
        deadlineMs: 40_000,
      });
    } finally {
      clearInterval(timer);
      collect(prof.stop());
    }
    const total: Record<string, number> = {};
    for (const l of lost) for (const [k, v] of Object.entries(l)) total[k] = (total[k] ?? 0) + v;
    const { cpuMs, wallMs, runs } = rounds;
    console.log(
      `1 kHz x ${onlineCpus().length} CPUs, ${runs.length} workload runs in ${(wallMs / 1000).toFixed(1)} s, ${lost.length} drains: ` +
        `counters ${JSON.stringify(total)}; drained samples ${drained}; workload CPU ${cpuMs.toFixed(0)} ms`,
    );
    assertJudgeable('lost samples at 1 kHz', { cpuMs, wallMs, periodMs: PERIOD_MS, needSamples });
    // 5% on top of the noise: samples in the instants a workload starts or exits, and the vCPU
    // time the hypervisor steals (the timer catches up on it, the CPU clock does not count it).
    const bad = checkCount('samples counted', total.samples ?? 0, countBound(cpuMs / PERIOD_MS, { relative: 0.05 }));
    assert.equal(bad, null, bad ?? '');
    // Samples dropped or stacks lost: must be zero.
    for (const k of ['aggregationFull', 'stackCollisions', 'startMapFull', 'missingStacks', 'ringBufferFull']) {
      assert.equal(total[k], 0, `${k} = ${total[k]}`);
    }
    // A stack that could not be read (e.g. a sample while a thread starts or exits) keeps the
    // sample without that stack: allowed, but rare.
    const stackErrors = (total.userStackErrors ?? 0) + (total.kernelStackErrors ?? 0);
    assert.ok(stackErrors <= (total.samples ?? 0) * 0.001, `stack errors ${stackErrors}`);
    assert.equal(drained, total.samples, 'every counted sample was drained');
  });
});
