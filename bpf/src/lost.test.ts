// Lost-sample accounting: at 1 kHz on every CPU with two busy processes for ~3 s, the kernel's
// error counters stay at zero and every sample counted by the program is in the drained stacks.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { onlineCpus } from '@swlite/libbpf-ts';
import { OnCpuProfiler, type LostCounters } from './index.js';
import { compileWorkload, ensureBpfBuilt, startWorkload } from './testing/workloads.js';

const skip = bpfTestSkip();

describe('lost samples', { skip }, () => {
  let exe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('oncpu_workload');
  });

  it('zero lost at 1 kHz on all CPUs; drained counts == samples counted', async () => {
    const prof = new OnCpuProfiler();
    prof.start([], { frequency: 1000 });
    const wls = onlineCpus().map(() => startWorkload(exe, ['3', '16000000', '100000', '1']));
    let drained = 0;
    let outputs: string[] = [];
    const lost: LostCounters[] = [];
    try {
      for (const w of wls) prof.addTarget(w.pid);
      for (const w of wls) w.go();
      const timer = setInterval(() => {
        const d = prof.drain();
        drained += d.stacks.reduce((s, x) => s + x.count, 0);
        lost.push(d.lost);
      }, 1000);
      outputs = await Promise.all(wls.map((w) => w.done));
      clearInterval(timer);
    } finally {
      const d = prof.stop();
      drained += d.stacks.reduce((s, x) => s + x.count, 0);
      lost.push(d.lost);
    }
    const total: Record<string, number> = {};
    for (const l of lost) for (const [k, v] of Object.entries(l)) total[k] = (total[k] ?? 0) + v;
    // The machine is shared: expect one sample per ms of CPU the workloads actually got.
    const cpuMs = outputs.reduce((s, o) => s + Number(/cpu_ns=(\d+)/.exec(o)?.[1] ?? 0) / 1e6, 0);
    console.log(
      `1 kHz x ${onlineCpus().length} CPUs, ${lost.length} drains: counters ${JSON.stringify(total)}; ` +
        `drained samples ${drained}; workload CPU ${cpuMs.toFixed(0)} ms (expected ~${cpuMs.toFixed(0)} samples)`,
    );
    assert.ok(cpuMs > 1000, `workloads got only ${cpuMs} ms of CPU`);
    assert.ok(
      Math.abs((total.samples ?? 0) - cpuMs) / cpuMs < 0.15,
      `samples ${total.samples} vs ${cpuMs} ms of CPU at 1 kHz`,
    );
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
