// The dwarf-mode samplers in the real kernel, on workloads built WITHOUT frame pointers:
// on-CPU stacks unwind through the workload's own functions to main/start_thread; off-CPU blocked
// time is attributed to the unwound stack (sleep_fn, pipe_fn) within 10% of the wall time.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { Symbolizer } from '@swlite/symbolizer';
import { compileWorkload, ensureBpfBuilt, startWorkload } from '@swlite/bpf/testing/workloads';
import type { ProfiledStack } from '@swlite/bpf';
import { bpfSamplerFactory } from '../sampler';
import { medianUnwindUs, SnapshotOffCpuSampler, SnapshotOnCpuSampler } from './snapshot-samplers';

const skip = bpfTestSkip();
const NO_FP = ['-O2', '-fomit-frame-pointer', '-g'];

const names = (sym: Symbolizer, s: ProfiledStack) => sym.symbolizeUser(s.tgid, s.userStack, { returnAddresses: true }).map((f) => f.name);

describe('snapshot (dwarf) samplers', { skip }, () => {
  before(() => ensureBpfBuilt());

  it('ON_CPU: stacks of an -fomit-frame-pointer program reach the thread root; fp mode does not', async () => {
    const exe = compileWorkload('oncpu_workload', NO_FP);
    const sym = new Symbolizer();
    const dwarf = new SnapshotOnCpuSampler(sym, 0, { frequency: 500 });
    const fp = bpfSamplerFactory(2, { unwind: 'fp' })('ON_CPU');
    const wl = startWorkload(exe, ['1.5', '120000000', '400000', '2']);
    dwarf.start([wl.pid]);
    fp.start([wl.pid]);
    let stacks: ProfiledStack[] = [];
    let fpStacks: ProfiledStack[] = [];
    try {
      wl.go();
      await new Promise((r) => setTimeout(r, 1000));
      stacks = dwarf.drain().stacks;
      fpStacks = fp.drain().stacks;
      const scored = (ss: ProfiledStack[]) => {
        let total = 0;
        let rooted = 0;
        let viaWorker = 0;
        for (const s of ss) {
          const n = names(sym, s);
          total += s.count;
          if (/^(main|_start|start_thread|__clone3|clone3)$/.test(n[n.length - 1] ?? '')) rooted += s.count;
          if (n.includes('worker')) viaWorker += s.count;
        }
        return { total, rooted: rooted / Math.max(1, total), viaWorker: viaWorker / Math.max(1, total) };
      };
      const d = scored(stacks);
      const f = scored(fpStacks);
      console.log(`dwarf ${JSON.stringify(d)}; fp ${JSON.stringify(f)}; unwind p50 ${medianUnwindUs(dwarf.stats).toFixed(1)} µs`);
      assert.ok(d.total > 50, `only ${d.total} samples`);
      assert.ok(d.rooted >= 0.95, `dwarf: ${d.rooted} rooted`);
      assert.ok(d.viaWorker >= 0.9, `dwarf: ${d.viaWorker} through worker()`);
      assert.ok(f.rooted < d.rooted, 'fp mode should not reach the root without frame pointers');
    } finally {
      dwarf.stop();
      fp.stop();
      await wl.done.catch(() => undefined);
    }
  });

  it('OFF_CPU: blocked time goes to the unwound stacks of sleep_fn and pipe_fn (within 10% of wall time)', async () => {
    const exe = compileWorkload('offcpu_workload', NO_FP);
    const sym = new Symbolizer();
    const sampler = new SnapshotOffCpuSampler(sym);
    sampler.start([]);
    const wl = startWorkload(exe, ['20', '50', '10', '100']);
    let out = '';
    const stacks: ProfiledStack[] = [];
    try {
      sampler.addTarget(wl.pid);
      wl.go();
      out = await wl.done;
      stacks.push(...sampler.drain().stacks);
    } finally {
      const r = sampler.stop();
      stacks.push(...r.stacks);
    }
    const wall = Object.fromEntries([...out.matchAll(/(\w+)_ns=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    const byFn = new Map<string, { ns: number; rooted: number; count: number }>();
    for (const s of stacks) {
      const n = names(sym, s);
      const fn = n.find((x) => x === 'sleep_fn' || x === 'pipe_fn') ?? '(other)';
      const e = byFn.get(fn) ?? { ns: 0, rooted: 0, count: 0 };
      e.ns += s.durationNs ?? 0;
      e.count += s.count;
      if (n.includes('main')) e.rooted += s.count;
      byFn.set(fn, e);
    }
    console.log(`off-CPU dwarf: wall ${JSON.stringify(wall)}; ${JSON.stringify(Object.fromEntries(byFn))}; unwind p50 ${medianUnwindUs(sampler.stats).toFixed(1)} µs`);
    for (const fn of ['sleep_fn', 'pipe_fn']) {
      const got = byFn.get(fn);
      const w = wall[fn];
      assert.ok(got && w, `${fn} missing`);
      assert.ok(Math.abs(got.ns - w) / w <= 0.1, `${fn}: ${got.ns} ns vs wall ${w} ns`);
      assert.equal(got.rooted, got.count, `${fn}: every stack reaches main`);
    }
  });
});
