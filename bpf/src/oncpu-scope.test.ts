// On-CPU sampling scopes in the real kernel. A process that runs in short wake-up bursts on a CPU
// shared with a CPU hog (both pinned to one CPU) is sampled at once by a per-CPU profiler and a
// per-thread one; each count is judged against the CPU time the process got (its schedstat). The
// per-thread count must be exact within sampling noise; the per-CPU one is logged (it is not
// independent of the bursts, see perf-sampler.ts). Then: scope 'auto' switches to per-CPU events
// at its bound, covers new threads and forked processes once added, counts no process twice, and
// leaves no file descriptor open.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { OnCpuProfiler, StackSnapshotProfiler, type DrainResult } from './index.js';
import { assertJudgeable, checkCount, countBound, samplesToJudge } from './testing/sampling.js';
import { compileWorkload, ensureBpfBuilt, startWorkload, type RunningWorkload } from './testing/workloads.js';

const skip = bpfTestSkip();
const PERIOD_MS = 9;

/** CPU time (ns) of every thread of `pid` so far, exact (schedstat's first field). */
const cpuNsOf = (pid: number): number =>
  readdirSync(`/proc/${pid}/task`).reduce(
    (s, tid) => s + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]),
    0,
  );

const countOf = (r: DrainResult, tgid: number): number =>
  r.stacks.filter((s) => s.tgid === tgid).reduce((n, s) => n + s.count, 0);

const openFds = (): number => readdirSync('/proc/self/fd').length;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A shell busy loop pinned to `cpu` (killed by pid at the end). */
const startHog = (cpu: number): ChildProcess =>
  spawn('taskset', ['-c', String(cpu), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });

describe('on-CPU sampling scopes', { skip }, () => {
  let bursts: string;
  before(() => {
    ensureBpfBuilt();
    bursts = compileWorkload('wakeup_hog', ['-O1', '-g']);
  });

  it('a bursty process beside a CPU hog on its CPU: per-thread samples are its own CPU time / period', async () => {
    const hog = startHog(0);
    // One thread: 300 µs of spinning, then a 700 µs sleep; each wake-up preempts the hog.
    const w = startWorkload(bursts, ['60', '1', '300', '700']);
    w.done.catch(() => {}); // killed at the end
    execFileSync('taskset', ['-p', '-c', '0', String(w.pid)], { stdio: 'ignore' });
    const perCpu = new OnCpuProfiler();
    const perThread = new OnCpuProfiler();
    try {
      await w.ready();
      perCpu.start([w.pid], { scope: 'cpu' });
      perThread.start([w.pid], { scope: 'thread' });
      w.go();
      await sleep(300);
      perCpu.drain();
      perThread.drain();
      const cpu0 = cpuNsOf(w.pid);
      const t0 = Date.now();
      // Noise within 25% of the count: the per-CPU bias measured here is larger (see the log).
      const needSamples = samplesToJudge(0.25);
      while (Date.now() - t0 < 40_000 && (cpuNsOf(w.pid) - cpu0) / 1e6 < needSamples * PERIOD_MS) await sleep(500);
      const cpuMs = (cpuNsOf(w.pid) - cpu0) / 1e6;
      const wallMs = Date.now() - t0;
      const thread = countOf(perThread.drain(), w.pid);
      const cpu = countOf(perCpu.drain(), w.pid);
      const expected = cpuMs / PERIOD_MS;
      const pct = (n: number) => `${n >= expected ? '+' : ''}${((100 * (n - expected)) / expected).toFixed(1)}%`;
      console.log(
        `bursts beside a hog on CPU 0: ${cpuMs.toFixed(0)} ms of CPU in ${(wallMs / 1000).toFixed(1)} s -> ` +
          `${expected.toFixed(0)} samples expected; per thread ${thread} (${pct(thread)}), per CPU ${cpu} (${pct(cpu)})`,
      );
      assertJudgeable('bursts beside a hog', { cpuMs, wallMs, periodMs: PERIOD_MS, needSamples });
      // A per-thread event counts the thread's own CPU time: two samples for the window's edges.
      const bad = checkCount('per-thread', thread, countBound(expected, { absolute: 2 }));
      assert.equal(bad, null, bad ?? '');
    } finally {
      perCpu.stop();
      perThread.stop();
      w.child.kill('SIGKILL');
      hog.kill('SIGKILL');
    }
  });

  describe('scope auto', () => {
    const children: RunningWorkload[] = [];
    after(() => {
      for (const c of children) c.child.kill('SIGKILL');
    });

    it('samples per thread up to its bound, per CPU beyond, and frees every event at stop', async () => {
      // Four threads each: 8 fit a bound of 10 twice, not three times.
      const ws = [0, 1, 2].map(() => startWorkload(bursts, ['30', '4', '200', '800']));
      children.push(...ws);
      for (const w of ws) w.done.catch(() => {}); // killed at the end
      await Promise.all(ws.map((w) => w.ready()));
      for (const w of ws) w.go();
      await sleep(100); // the threads exist
      const fds = openFds();
      for (const make of [() => new OnCpuProfiler(), () => new StackSnapshotProfiler()]) {
        const p = make();
        p.start([ws[0]!.pid], { scope: 'auto', maxThreadEvents: 10 });
        p.addTarget(ws[1]!.pid);
        p.addTarget(ws[2]!.pid);
        if (p instanceof OnCpuProfiler) {
          assert.deepEqual(
            ws.map((w) => p.scopeOf(w.pid)),
            ['thread', 'thread', 'cpu'],
          );
          assert.equal(p.threadEvents, 8);
          // A process removed frees its events: the next one fits again.
          p.removeTarget(ws[0]!.pid);
          assert.equal(p.threadEvents, 4);
          p.removeTarget(ws[2]!.pid);
          p.addTarget(ws[2]!.pid);
          assert.equal(p.scopeOf(ws[2]!.pid), 'thread');
          assert.equal(p.threadEvents, 8);
        }
        await sleep(300);
        p.stop();
        assert.equal(openFds(), fds, `${p.constructor.name}: file descriptors left open after stop`);
      }
    });

    it('covers threads created after the attach, and a forked process once added, each sample counted once', async () => {
      // Threads: three of the four start after the attach (inherited events).
      const threads = startWorkload(bursts, ['30', '4', '500', '500']);
      children.push(threads);
      threads.done.catch(() => {});
      // A shell that forks a busy subshell once told to.
      const forker = spawn('sh', ['-c', 'read x; (while :; do :; done) & wait'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      const forkerPid = forker.pid!;
      await threads.ready();
      const p = new OnCpuProfiler();
      let child: number | undefined;
      try {
        p.start([threads.pid, forkerPid], { scope: 'auto' });
        assert.equal(p.threadEvents, 2);
        threads.go();
        forker.stdin!.write('go\n');
        for (let i = 0; i < 100 && child === undefined; i++) {
          await sleep(20);
          const listed = readFileSync(`/proc/${forkerPid}/task/${forkerPid}/children`, 'utf8').trim();
          if (listed) child = Number(listed.split(' ')[0]);
        }
        assert.ok(child, 'the shell forked no child');
        await sleep(200);
        // Not a target yet: its parent's events are not inherited across the fork.
        assert.equal(countOf(p.drain(), child), 0, 'a forked process sampled before it was added');
        p.addTarget(child);
        assert.equal(p.scopeOf(child), 'thread');
        p.drain();
        const cpu0 = new Map([threads.pid, child].map((pid) => [pid, cpuNsOf(pid)]));
        const needSamples = samplesToJudge(0.5);
        const t0 = Date.now();
        const gotMs = (pid: number) => (cpuNsOf(pid) - cpu0.get(pid)!) / 1e6;
        while (Date.now() - t0 < 30_000 && Math.min(gotMs(threads.pid), gotMs(child)) < needSamples * PERIOD_MS)
          await sleep(250);
        const ms = new Map([threads.pid, child].map((pid) => [pid, gotMs(pid)]));
        const wallMs = Date.now() - t0;
        const r = p.drain();
        for (const [what, pid] of [
          ['threads created after the attach', threads.pid],
          ['forked process', child],
        ] as const) {
          const cpuMs = ms.get(pid)!;
          const got = countOf(r, pid);
          console.log(
            `${what}: ${cpuMs.toFixed(0)} ms of CPU -> ${(cpuMs / PERIOD_MS).toFixed(0)} expected, ${got} samples`,
          );
          assertJudgeable(what, { cpuMs, wallMs, periodMs: PERIOD_MS, needSamples });
          const bad = checkCount(what, got, countBound(cpuMs / PERIOD_MS, { absolute: 2 }));
          assert.equal(bad, null, bad ?? '');
        }
      } finally {
        p.stop();
        if (child) process.kill(child, 'SIGKILL');
        forker.kill('SIGKILL');
      }
    });
  });
});
