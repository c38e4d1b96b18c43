// OFF_CPU under preemption: two spinning threads of the target share the cores with CPU hogs of
// another process, so the scheduler preempts them hundreds to thousands of times per second (a
// switch-out at a new user ip each time: no snapshot reuse). Every switch the kernel counted for
// the target (/proc's voluntary + involuntary switches of its threads, read just before the
// sampler is attached and just before it stops) must come out of the sampler as a switch on a stack or
// as a lost switch; with the default buffers, none lost.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { Symbolizer } from '@swlite/symbolizer';
import { compileWorkload, ensureBpfBuilt, startWorkload, type RunningWorkload } from '@swlite/bpf/testing/workloads';
import type { LostCounters } from '@swlite/bpf';
import { SnapshotOffCpuSampler } from './snapshot-samplers';

const skip = bpfTestSkip();
const NO_FP = ['-O2', '-fomit-frame-pointer', '-g'];

/** Context switches of all threads of pid, as /proc counts them. */
const procSwitches = (pid: number): number => {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) n += Number(m[1]);
  }
  return n;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keeps the event loop busy for ms (rover starved or busy unwinding: its drains come late). */
const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

describe('OFF_CPU snapshot sampler under preemption', { skip }, () => {
  let exe: string;
  let hogExe: string;
  before(() => {
    ensureBpfBuilt();
    exe = compileWorkload('fd_spin', NO_FP);
    hogExe = compileWorkload('wakeup_hog', ['-O1']);
  });

  it('every switch of a preempted target is counted or reported lost, and none lost', async () => {
    // Target: 2 threads writing to 64 descriptors in turn. Hogs: another process with 4 threads
    // per CPU that spin 30 µs and sleep 50 µs (each wake-up preempts the target).
    const target = startWorkload(exe, ['60', '2', '64']);
    const hogThreads = Math.min(64, 4 * availableParallelism());
    const hogs: RunningWorkload = startWorkload(hogExe, ['60', String(hogThreads), '30', '50']);
    const sampler = new SnapshotOffCpuSampler(new Symbolizer());
    let counted = 0;
    let kernel = 0;
    let switchIns = 0;
    let samples = 0;
    const lost: Partial<Record<keyof LostCounters, number>> = {};
    const take = (r: ReturnType<SnapshotOffCpuSampler['drain']>) => {
      for (const s of r.stacks) counted += s.count;
      switchIns += r.switchIns ?? 0;
      samples += r.lost.samples;
      for (const [k, v] of Object.entries(r.lost) as Array<[keyof LostCounters, number]>)
        if (k !== 'samples' && v) lost[k] = (lost[k] ?? 0) + v;
    };
    try {
      await Promise.all([target.ready(), hogs.ready()]);
      hogs.go();
      target.go();
      await sleep(300); // threads started
      sampler.start([target.pid]);
      // Read once attached: loading the program takes a while on a loaded machine.
      const before = procSwitches(target.pid);
      // Drains at 1 s, some of them late (the event loop held as a starved rover would be).
      for (let i = 0; i < 6; i++) {
        await sleep(1000);
        if (i % 2 === 1) busy(1000);
        take(sampler.drain());
      }
      kernel = procSwitches(target.pid) - before;
      take(sampler.stop());
    } finally {
      target.child.kill('SIGKILL');
      hogs.child.kill('SIGKILL');
      await Promise.allSettled([target.done, hogs.done]);
    }
    const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0);
    const figures =
      `/proc counted ${kernel} switches of the target; the sampler ${counted} on stacks, ${switchIns} switch-ins, ` +
      `${samples} switch-outs (${sampler.snapshotsReused} reused, ${sampler.stats.snapshots} unwound), lost ${JSON.stringify(lost)}`;
    console.log(figures);
    assert.ok(kernel >= 500, `too few preemptions to judge: ${figures}`);
    // The window edges: switches between the /proc reads and the attach/detach (a few ms).
    const edge = Math.max(20, 0.02 * kernel);
    assert.ok(counted + lostTotal >= kernel - edge, `switches neither counted nor reported lost: ${figures}`);
    assert.ok(counted <= kernel + edge, `more switches than the kernel made: ${figures}`);
    assert.equal(lostTotal, 0, `switches lost: ${figures}`);
  });
});
