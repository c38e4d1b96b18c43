/**
 * An ON_CPU task over many processes (npm run bench:many in apps/rover; needs root/BPF): for 10,
 * 100 and 1,000 sleeping processes plus 2 spinning ones, one task runner (as the task manager
 * builds for the one-command-per-process task of the OAP) over the real target registry, with
 * real uploads dropped on the floor. Prints per size: the target's start time, the longest
 * event-loop stall in the task's first half (the start, and the first flushes with their symbol
 * loading: the first size also pays the symbolizer's first kernel and libc tables), RSS and open
 * file descriptors while the task runs (and their growth over the run-free baseline), and the
 * samples the kernel took.
 * Env: BENCH_SIZES (10,100,1000), BENCH_TASK_SECONDS (3).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Symbolizer } from '@swlite/symbolizer';
import { loadConfig } from '../src/config';
import { createTargetRegistry } from '../src/profiling/targets/registry';
import type { ProfilingTarget } from '../src/profiling/targets/target';
import type { ProfilingTask } from '../src/profiling/task-command';
import { TaskRunner } from '../src/profiling/task-runner';
import { UploadQueue } from '../src/profiling/upload-queue';
import { openFds, startProcessCrowd } from '../src/profiling/testing/process-crowd';

const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
const TASK_SECONDS = Number(process.env.BENCH_TASK_SECONDS ?? 3);
const MiB = 1024 * 1024;

const log = pino({ level: 'silent' });
const registry = createTargetRegistry({ config: loadConfig({ env: {} }).profiling, symbolizer: new Symbolizer(), log });
const onCpu = registry.get('ON_CPU');

interface Figures {
  processes: number;
  startMs: number;
  maxStallMs: number;
  rssMiB: number;
  rssGrowthMiB: number;
  fds: number;
  fdGrowth: number;
  busySamples: number;
}

const measure = async (count: number): Promise<Figures> => {
  const crowd = await startProcessCrowd(count, 2);
  try {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const fds0 = openFds();
    let startMs = NaN;
    const timed: ProfilingTarget = {
      ...onCpu,
      unavailable: () => onCpu.unavailable(),
      start: (pids) => {
        const t0 = performance.now();
        const run = onCpu.start(pids);
        startMs = performance.now() - t0;
        return run;
      },
    };
    const uploads = new UploadQueue(async () => undefined, log);
    const pids = [...crowd.sleepers, ...crowd.busy];
    const task: ProfilingTask = {
      taskId: `many-${count}`,
      processIds: pids.map((p) => `proc-${p}`),
      updateTime: Date.now(),
      triggerType: 'FIXED_TIME',
      targetType: 'ON_CPU',
      startTime: Date.now(),
      durationSeconds: TASK_SECONDS,
    };
    const stalls = monitorEventLoopDelay({ resolution: 5 });
    stalls.enable();
    let runner!: TaskRunner;
    const finished = new Promise<void>((resolve) => {
      runner = new TaskRunner(task, pids.map((pid) => ({ processId: `proc-${pid}`, pid })), {
        target: timed,
        uploads,
        flushIntervalMs: 1000,
        log,
        onFinish: () => resolve(),
      });
    });
    runner.schedule();
    await sleep(TASK_SECONDS * 500);
    stalls.disable();
    const rss = process.memoryUsage().rss;
    const fds = openFds();
    await finished;
    uploads.close();
    return {
      processes: count + 2,
      startMs,
      maxStallMs: stalls.max / 1e6,
      rssMiB: rss / MiB,
      rssGrowthMiB: (rss - rss0) / MiB,
      fds,
      fdGrowth: fds - fds0,
      busySamples: runner.stats.samples,
    };
  } finally {
    await crowd.end();
  }
};

const rows: Figures[] = [];
for (const n of SIZES) rows.push(await measure(n));
const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
console.log('processes  start_ms  max_stall_ms  rss_MiB  rss_growth_MiB  fds  fd_growth  samples');
for (const r of rows) {
  console.log(
    [r.processes, r.startMs, r.maxStallMs, r.rssMiB, r.rssGrowthMiB, r.fds, r.fdGrowth, r.busySamples]
      .map(fmt)
      .map((s, i) => s.padStart([9, 8, 12, 7, 14, 4, 9, 7][i]!))
      .join('  '),
  );
}
