// One kernel sampler per target type, shared by its runs (real BPF, real processes): two runs
// each get only their processes' stacks and the second one opens no sampler (on-CPU: only the
// per-thread events of its process); a run over 1,000 processes starts in under a second with the
// file descriptors of a run over 500 (per-thread events stop at their bound), and the busy ones
// among them are sampled; the last stop closes the sampler.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { ensureBpfBuilt } from '@swlite/bpf/testing/workloads';
import { Symbolizer } from '@swlite/symbolizer';
import { loadConfig } from '../../config';
import { openFds, startProcessCrowd, type ProcessCrowd } from '../testing/process-crowd';
import { createTargetRegistry } from './registry';
import type { ProfilingTarget, TargetDrain } from './target';

const stackTarget = (type: 'ON_CPU' | 'OFF_CPU'): ProfilingTarget =>
  createTargetRegistry({
    // Per-thread on-CPU events up to 256 threads (an opt-in): both scopes are exercised.
    config: loadConfig({ env: { ROVER_PROFILING_TASK_ON_CPU_THREAD_SAMPLING_MAX_THREADS: '256' } }).profiling,
    symbolizer: new Symbolizer(),
    log: pino({ level: 'silent' }),
  }).get(type);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Samples (on-CPU) or switches (off-CPU) per pid in a drain, summed over its payloads. */
const samplesByPid = (d: TargetDrain): Map<number, number> => {
  const out = new Map<number, number>();
  for (const [pid, payloads] of d.payloads)
    out.set(
      pid,
      payloads.reduce((n, p) => n + (p.onCPU?.dumpCount ?? p.offCPU?.switchCount ?? 0), 0),
    );
  return out;
};

describe('shared stack sampler', { skip: bpfTestSkip() }, () => {
  let crowd: ProcessCrowd;
  before(async () => {
    ensureBpfBuilt();
    crowd = await startProcessCrowd(1000, 2);
  });
  after(async () => crowd?.end());

  for (const type of ['ON_CPU', 'OFF_CPU'] as const)
    it(`${type}: two runs share one sampler: the second opens none, each gets only its processes`, async () => {
      // The spinners are switched out too (preempted), so off-CPU has their stacks as well.
      const target = stackTarget(type);
      const [a, b] = crowd.busy as [number, number];
      const fds0 = openFds();
      const runA = target.start([a]);
      const fds1 = openFds();
      // On-CPU samples a process with a CPU-clock event per thread (a perf event and a BPF link each).
      const threadFds = type === 'ON_CPU' ? 2 * readdirSync(`/proc/${b}/task`).length : 0;
      const runB = target.start([b]);
      assert.equal(openFds(), fds1 + threadFds, 'the second run opened more than its per-thread events');
      assert.ok(fds1 > fds0, 'the first run opened the sampler');
      await sleep(600);
      const fromA = samplesByPid(runA.drain());
      await sleep(300);
      const fromB = samplesByPid(runB.stop());
      assert.deepEqual([...fromA.keys()], [a]);
      assert.deepEqual([...fromB.keys()], [b]);
      // The machine may be loaded (the spinners then get a share of a core): any samples will do.
      assert.ok(fromA.get(a)! > 0, `no samples of A`);
      // B's drain holds what the kernel gave while A drained, plus its own read.
      assert.ok(fromB.get(b)! > 0, `no samples of B`);
      // B left: A alone keeps the sampler, and now also gets what A's process does.
      // (Drained until both show up, for up to 5 s: on a loaded machine a spinner can wait
      // hundreds of milliseconds for a core.)
      runA.addProcess(b);
      const last = new Map<number, number>();
      for (const deadline = Date.now() + 5_000; !(last.get(a)! > 0 && last.get(b)! > 0) && Date.now() < deadline;) {
        await sleep(300);
        for (const [pid, n] of samplesByPid(runA.drain())) last.set(pid, (last.get(pid) ?? 0) + n);
      }
      for (const [pid, n] of samplesByPid(runA.stop())) last.set(pid, (last.get(pid) ?? 0) + n);
      assert.ok(last.get(a)! > 0 && last.get(b)! > 0, `A after adding B: ${JSON.stringify([...last])}`);
      assert.equal(openFds(), fds0, 'the last stop did not close the sampler');
    });

  it('a run over 1,000 processes starts in under a second, with the descriptors of a run over 500', async () => {
    const target = stackTarget('ON_CPU');
    const fds0 = openFds();
    // Beyond the per-thread bound (256 threads here; one each) the processes share
    // the per-CPU events.
    const small = target.start([...crowd.sleepers.slice(0, 500)]);
    const fdsSmall = openFds() - fds0;
    small.stop();
    assert.equal(openFds(), fds0);

    const pids = [...crowd.sleepers, ...crowd.busy];
    // Judged on the CPU the start used, not on wall time: on a busy machine the wall clock says
    // how many other jobs ran meanwhile.
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const run = target.start(pids);
    const cpu = process.cpuUsage(cpu0);
    const startCpuMs = (cpu.user + cpu.system) / 1000;
    const startMs = performance.now() - t0;
    const fdsLarge = openFds() - fds0;
    try {
      assert.ok(
        startCpuMs < 1000,
        `start took ${startCpuMs.toFixed(0)} ms of CPU (${startMs.toFixed(0)} ms of wall time)`,
      );
      assert.equal(fdsLarge, fdsSmall, 'file descriptors grew with the process count');
      await sleep(500);
      const got = samplesByPid(run.drain());
      for (const pid of crowd.busy) assert.ok((got.get(pid) ?? 0) > 0, `busy ${pid}: ${got.get(pid)} samples`);
      // Processes leave live: a removed spinner's stacks stop coming after the drain that follows.
      run.removeProcess(crowd.busy[0]!);
      run.drain();
      await sleep(300);
      const after = samplesByPid(run.drain());
      assert.equal(after.get(crowd.busy[0]!), undefined);
      assert.ok((after.get(crowd.busy[1]!) ?? 0) > 0);
    } finally {
      run.stop();
    }
    assert.equal(openFds(), fds0);
  });
});
