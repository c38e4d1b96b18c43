/**
 * rover against heavy targets (npm run chaos -w @swlite/rover; root/BPF), real rover and
 * oap-lite processes:
 * - one process with 10,000 threads profiled ON_CPU then OFF_CPU: rover's memory stays bounded
 *   while it runs and comes back down after (its per-thread state goes with the task), and every
 *   acked sample is stored once;
 * - 1,000 processes on the host (the many-processes bench's crowd): discovery reports them all,
 *   one task over all of them starts and ends, and rover stays responsive meanwhile (a process
 *   started during the task is reported within seconds).
 * CHAOS_THREADS (10000) and CHAOS_PROCESSES (1000) scale them.
 */
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  analyze,
  buildWorkload,
  createTask,
  processNames,
  schedules,
  sleep,
  startOap,
  startRover,
  total,
  waitFor,
} from '@swlite/testkit';
import { startProcessCrowd } from '../src/profiling/testing/process-crowd';
import { logLines, rssMiB, stopAndReadTotals, storedSamples, unexpectedErrors, watchRss } from './support';

const skip = bpfTestSkip();
const THREADS = Number(process.env.CHAOS_THREADS ?? 10_000);
const PROCESSES = Number(process.env.CHAOS_PROCESSES ?? 1_000);

describe('rover against heavy targets', { skip }, () => {
  it(`a process with ${THREADS} threads, ON_CPU then OFF_CPU: memory bounded and returned, stored = acked`, async (t) => {
    const name = 'swlite-chaos-threads';
    const binary = buildWorkload(name, 'threads.c');
    const oap = await startOap({ SW_LOG_LEVEL: 'warn' });
    const rover = await startRover({ backend: oap.grpcAddress, matchCmd: name });
    const wl = spawn(binary, [String(THREADS), '600'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        wl.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
        wl.once('exit', (code) => reject(new Error(`the threads workload exited (${code}) before it was ready`)));
      });
      await waitFor(
        'the threads workload reported',
        async () => (await processNames(oap.graphqlUrl, name)).length > 0,
        60_000,
        rover,
      );
      const pid = rover.child.pid!;
      await sleep(3_000);
      const rssIdle = rssMiB(pid);
      const peaks: Record<string, number> = {};
      const taskIds: string[] = [];
      for (const target of ['ON_CPU', 'OFF_CPU'] as const) {
        const task = await createTask(oap.graphqlUrl, name, target, 15);
        taskIds.push(task.taskId);
        const rss = watchRss(pid);
        await waitFor(
          `${target} task finished`,
          () => logLines(rover, 'profiling task finished').some((l) => l.task === task.taskId),
          90_000,
          rover,
        );
        peaks[target] = rss.stop();
      }
      // rover gives freed heap pages back every 30 s: one round later the task's memory is gone.
      await sleep(33_000);
      const rssAfter = rssMiB(pid);
      const [onTrees, offTrees] = [
        await analyze(oap.graphqlUrl, await schedules(oap.graphqlUrl, taskIds[0]!)),
        await analyze(oap.graphqlUrl, await schedules(oap.graphqlUrl, taskIds[1]!)),
      ];
      const spin = total(onTrees, (s) => s === 'spin_fn');
      const nap = total(offTrees, (s) => s === 'nap_fn');
      const totals = await stopAndReadTotals(rover);
      const stored =
        (await storedSamples(oap.graphqlUrl, taskIds[0]!)) + (await storedSamples(oap.graphqlUrl, taskIds[1]!));
      const figures =
        `${THREADS} threads: rover RSS idle ${rssIdle.toFixed(1)} MiB, peak ON_CPU ${peaks.ON_CPU!.toFixed(1)} MiB, ` +
        `peak OFF_CPU ${peaks.OFF_CPU!.toFixed(1)} MiB, 33 s after ${rssAfter.toFixed(1)} MiB; spin_fn ${spin} samples, ` +
        `nap_fn ${nap} switches; stored ${stored}, acked ${totals.sentSamples}`;
      t.diagnostic(figures);
      console.log(figures);
      assert.ok(spin > 0, 'the spinning threads were sampled');
      // Each napping thread switches out about once a second for the 15 s task.
      assert.ok(nap > THREADS, `the napping threads' switches were counted (${nap})`);
      assert.equal(totals.droppedMessages + totals.bufferedMessages, 0);
      assert.equal(stored, totals.sentSamples, 'stored = acked');
      const peak = Math.max(peaks.ON_CPU!, peaks.OFF_CPU!);
      assert.ok(peak - rssIdle < 256, `RSS grew ${(peak - rssIdle).toFixed(1)} MiB while profiling ${THREADS} threads`);
      assert.ok(
        rssAfter - rssIdle < Math.max(48, (peak - rssIdle) / 2),
        `RSS after the tasks (${rssAfter.toFixed(1)} MiB) came back toward idle (${rssIdle.toFixed(1)}, peak ${peak.toFixed(1)})`,
      );
      assert.deepEqual(unexpectedErrors(rover), []);
    } finally {
      wl.kill('SIGKILL');
      await rover.stop();
      await oap.cleanup();
    }
  });

  it(`${PROCESSES} processes: all reported, one task over them runs, and rover stays responsive`, async (t) => {
    const service = 'swlite-chaos-many';
    const crowd = await startProcessCrowd(PROCESSES, 2);
    const oap = await startOap({ SW_LOG_LEVEL: 'warn' });
    const started = Date.now();
    const rover = await startRover({
      backend: oap.grpcAddress,
      matchCmd: '^sleep 60[01]$|^sh -c while :; do :; done$',
      env: { ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: service },
    });
    let late: ReturnType<typeof spawn> | undefined;
    try {
      const count = async () => (await processNames(oap.graphqlUrl, service)).length;
      await waitFor('every process reported', async () => (await count()) >= PROCESSES + 2, 180_000, rover);
      const reportedS = (Date.now() - started) / 1000;
      const pid = rover.child.pid!;
      const rssIdle = rssMiB(pid);
      const created = Date.now();
      const task = await createTask(oap.graphqlUrl, service, 'ON_CPU', 20);
      await waitFor('task started', () => logLines(rover, 'profiling task started').length > 0, 120_000, rover);
      const startS = (Date.now() - created) / 1000;
      const rss = watchRss(pid);
      // Responsive while the task runs: a process started now is found and reported promptly.
      late = spawn('sleep', ['601'], { stdio: 'ignore' });
      const lateAt = Date.now();
      await waitFor(
        'the late process reported',
        async () => (await processNames(oap.graphqlUrl, service)).includes(`sleep-${late!.pid}`),
        30_000,
        rover,
      );
      const lateS = (Date.now() - lateAt) / 1000;
      await waitFor(
        'task finished',
        () => logLines(rover, 'profiling task finished').some((l) => l.task === task.taskId),
        90_000,
        rover,
      );
      const peak = rss.stop();
      await sleep(2_000);
      const totals = await stopAndReadTotals(rover);
      const stored = await storedSamples(oap.graphqlUrl, task.taskId);
      const figures =
        `${PROCESSES + 2} processes: all reported ${reportedS.toFixed(1)} s after rover's start, task started ` +
        `${startS.toFixed(1)} s after creation, a late process reported in ${lateS.toFixed(1)} s during the task; ` +
        `rover RSS ${rssIdle.toFixed(1)} MiB before the task, peak ${peak.toFixed(1)} MiB; stored ${stored}, acked ${totals.sentSamples}`;
      t.diagnostic(figures);
      console.log(figures);
      assert.ok(stored > 0, 'the spinning processes were sampled');
      assert.equal(totals.droppedMessages + totals.bufferedMessages, 0);
      assert.equal(stored, totals.sentSamples, 'stored = acked');
      assert.ok(lateS < 15, `a new process reported within 15 s during the task (${lateS.toFixed(1)} s)`);
      assert.deepEqual(unexpectedErrors(rover), []);
    } finally {
      late?.kill('SIGKILL');
      await rover.stop();
      await oap.cleanup();
      await crowd.end();
    }
  });
});
