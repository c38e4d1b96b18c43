// Off-CPU snapshots with intervals aggregated in the kernel: a workload blocks 20 times in
// sleep_fn (nanosleep) and 10 times in pipe_fn (read on a pipe fed every 100 ms), syscalls issued
// inline so the snapshot's user ip names the function. Every aggregated interval must join a
// snapshot that came through the ring, the switches must be at least the blocking calls made, the
// blocked time within 10% of the wall time the workload measured, and nothing counted lost.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { OffCpuSnapshotProfiler, type OffCpuIntervals, type OffCpuSnapshotLost } from './index.js';
import { compileWorkload, ensureBpfBuilt, ExeSymbols, startWorkload } from './testing/workloads.js';

const skip = bpfTestSkip();

describe('OffCpuSnapshotProfiler', { skip }, () => {
  let exe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('offcpu_workload');
  });

  it('aggregated intervals join their snapshots: switches and blocked time of sleep_fn and pipe_fn, nothing lost', async () => {
    /** Leaf function of each snapshot by (tid, tsNs). */
    const leaves = new Map<string, string>();
    let syms: ExeSymbols | undefined;
    const prof = new OffCpuSnapshotProfiler({
      onSnapshot: (s) => leaves.set(`${s.tid}:${s.tsNs}`, syms?.lookup(s.regs.ip) ?? '(other)'),
    });
    prof.start([], { userStackBytes: 4096 });
    const wl = startWorkload(exe, ['20', '50', '10', '100']);
    const intervals: OffCpuIntervals[] = [];
    const lost: OffCpuSnapshotLost[] = [];
    let out: string;
    try {
      syms = ExeSymbols.forProcess(exe, wl.pid);
      prof.addTarget(wl.pid);
      wl.go();
      const timer = setInterval(() => {
        const r = prof.poll();
        intervals.push(...r.intervals);
        lost.push(r.lost);
      }, 300);
      try {
        out = await wl.done;
      } finally {
        clearInterval(timer);
      }
    } finally {
      const r = prof.stop();
      intervals.push(...r.intervals);
      lost.push(r.lost);
    }
    const total = (k: keyof OffCpuSnapshotLost) => lost.reduce((s, l) => s + l[k], 0);
    const wall = Object.fromEntries([...out.matchAll(/(\w+)_ns=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    const byLeaf = new Map<string, { count: number; ns: number }>();
    let unmatched = 0;
    for (const iv of intervals) {
      const leaf = leaves.get(`${iv.tid}:${iv.tsOut}`);
      if (leaf === undefined) {
        unmatched += iv.count;
        continue;
      }
      const e = byLeaf.get(leaf) ?? { count: 0, ns: 0 };
      e.count += iv.count;
      e.ns += iv.durationNs;
      byLeaf.set(leaf, e);
    }
    console.log(
      `wall ${JSON.stringify(wall)}; by leaf ${JSON.stringify(Object.fromEntries(byLeaf))}; ${leaves.size} snapshots, ` +
        `${total('snapshotsReused')} reused, ${intervals.length} aggregates; switch-ins ${total('switchIns')}`,
    );
    assert.equal(unmatched, 0, 'every aggregated interval joins a snapshot of the ring');
    assert.equal(
      intervals.reduce((s, iv) => s + iv.count, 0),
      total('switchIns'),
      'the aggregates hold every switch-in the program counted',
    );
    for (const k of ['ringBufferFull', 'aggregationFull', 'startMapFull'] as const) assert.equal(total(k), 0, `${k}`);
    for (const [fn, calls] of [
      ['sleep_fn', 20],
      ['pipe_fn', 10],
    ] as const) {
      const got = byLeaf.get(fn);
      const w = wall[fn];
      assert.ok(got && w, `${fn}: no intervals or no wall time`);
      // Each call blocks at least once (a preemption at the same place adds a switch).
      assert.ok(got.count >= calls, `${fn}: ${got.count} switches for ${calls} blocking calls`);
      const err = Math.abs(got.ns - w) / w;
      assert.ok(err <= 0.1, `${fn}: off-CPU ${got.ns} ns vs wall ${w} ns`);
    }
    assert.ok(total('snapshotsReused') > 0, 'a thread blocking at the same place reuses its snapshot');
  });

  it('a thread still off CPU at stop is counted: one switch, blocked until the stop, on its snapshot', async () => {
    const leaves = new Map<string, string>();
    let syms: ExeSymbols | undefined;
    const prof = new OffCpuSnapshotProfiler({
      onSnapshot: (s) => leaves.set(`${s.tid}:${s.tsNs}`, syms?.lookup(s.regs.ip) ?? '(other)'),
    });
    // One 5 s nanosleep: the task ends in the middle of it.
    const wl = startWorkload(exe, ['1', '5000', '0', '100']);
    const intervals: OffCpuIntervals[] = [];
    let sleptMs = 0;
    try {
      await wl.ready();
      syms = ExeSymbols.forProcess(exe, wl.pid);
      prof.start([wl.pid], { userStackBytes: 4096 });
      wl.go();
      const went = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, 1000));
      sleptMs = Number(process.hrtime.bigint() - went) / 1e6;
      intervals.push(...prof.poll().intervals);
      assert.equal(
        intervals.filter((iv) => leaves.get(`${iv.tid}:${iv.tsOut}`) === 'sleep_fn').length,
        0,
        'not ended yet',
      );
      intervals.push(...prof.stop().intervals);
    } finally {
      prof.stop();
      wl.child.kill('SIGKILL');
      await wl.done.catch(() => undefined);
    }
    const open = intervals.filter((iv) => iv.tid === wl.pid && leaves.get(`${iv.tid}:${iv.tsOut}`) === 'sleep_fn');
    console.log(
      `slept ${sleptMs.toFixed(0)} ms before the stop; open intervals ${JSON.stringify(open, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
    assert.equal(open.length, 1, 'the sleeping thread has one interval, on the snapshot taken when it went to sleep');
    assert.equal(open[0]!.count, 1);
    // From its switch-out (after go) to the stop: at most the time since go, and most of it.
    const ms = open[0]!.durationNs / 1e6;
    assert.ok(ms <= sleptMs + 1000 && ms >= 0.5 * sleptMs, `blocked ${ms.toFixed(0)} ms of ${sleptMs.toFixed(0)} ms`);
  });
});
