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
import {
  ackedWithFrames,
  logLines,
  settled,
  rssMiB,
  stopAndReadTotals,
  storedSamples,
  unexpectedErrors,
  watchRss,
} from './support';

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
      // Two rounds of ON_CPU then OFF_CPU: the first loads what rover keeps for its life (kernel
      // symbols, one sampler per target type); the second must end where the first ended, so
      // what a task holds per thread goes with the task.
      const rounds: Array<{ peak: number; after: number; spin: number; nap: number }> = [];
      const taskIds: string[] = [];
      for (let round = 0; round < 2; round++) {
        let peak = 0;
        const ids: string[] = [];
        for (const target of ['ON_CPU', 'OFF_CPU'] as const) {
          const task = await createTask(oap.graphqlUrl, name, target, 15);
          ids.push(task.taskId);
          const rss = watchRss(pid);
          await waitFor(
            `${target} task finished`,
            () => logLines(rover, 'profiling task finished').some((l) => l.task === task.taskId),
            90_000,
            rover,
          );
          peak = Math.max(peak, rss.stop());
        }
        await settled(oap.graphqlUrl, ids);
        // rover gives freed heap pages back every 30 s: one round of that later, the task's memory is gone.
        await sleep(33_000);
        const spin = total(
          await analyze(oap.graphqlUrl, await schedules(oap.graphqlUrl, ids[0]!)),
          (x) => x === 'spin_fn',
        );
        const nap = total(
          await analyze(oap.graphqlUrl, await schedules(oap.graphqlUrl, ids[1]!)),
          (x) => x === 'nap_fn',
        );
        rounds.push({ peak, after: rssMiB(pid), spin, nap });
        taskIds.push(...ids);
      }
      const totals = await stopAndReadTotals(rover);
      let stored = 0;
      for (const id of taskIds) stored += await storedSamples(oap.graphqlUrl, id);
      const figures =
        `${THREADS} threads: rover RSS idle ${rssIdle.toFixed(1)} MiB; ` +
        rounds
          .map(
            (r, i) =>
              `round ${i + 1} (ON_CPU + OFF_CPU, 15 s each): peak ${r.peak.toFixed(1)} MiB, 33 s after ${r.after.toFixed(1)} MiB, ` +
              `spin_fn ${r.spin} samples, nap_fn ${r.nap} switches`,
          )
          .join('; ') +
        `; stored ${stored}, acked ${totals.sentSamples} (${totals.sentSamplesWithoutFrames} of them without frames)`;
      t.diagnostic(figures);
      console.log(figures);
      for (const r of rounds) {
        assert.ok(r.spin > 0, 'the spinning threads were sampled');
        // Each napping thread switches out about once a second for the 15 s task.
        assert.ok(r.nap > THREADS, `the napping threads' switches were counted (${r.nap})`);
      }
      assert.equal(totals.droppedMessages + totals.bufferedMessages, 0);
      assert.equal(stored, ackedWithFrames(totals), 'stored = acked');
      const peak = Math.max(...rounds.map((r) => r.peak));
      assert.ok(peak - rssIdle < 256, `RSS grew ${(peak - rssIdle).toFixed(1)} MiB while profiling ${THREADS} threads`);
      assert.ok(
        // Two runs measured -12 and +25 MiB between the rounds (the heap's GC timing): 48 is past that noise.
        rounds[1]!.after - rounds[0]!.after < 48,
        `RSS after the second round (${rounds[1]!.after.toFixed(1)} MiB) is where the first ended (${rounds[0]!.after.toFixed(1)} MiB)`,
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
      await settled(oap.graphqlUrl, [task.taskId]);
      const totals = await stopAndReadTotals(rover);
      const stored = await storedSamples(oap.graphqlUrl, task.taskId);
      const figures =
        `${PROCESSES + 2} processes: all reported ${reportedS.toFixed(1)} s after rover's start, task started ` +
        `${startS.toFixed(1)} s after creation, a late process reported in ${lateS.toFixed(1)} s during the task; ` +
        `rover RSS ${rssIdle.toFixed(1)} MiB before the task, peak ${peak.toFixed(1)} MiB; stored ${stored}, acked ${totals.sentSamples} (${totals.sentSamplesWithoutFrames} of them without frames)`;
      t.diagnostic(figures);
      console.log(figures);
      assert.ok(stored > 0, 'the spinning processes were sampled');
      assert.equal(totals.droppedMessages + totals.bufferedMessages, 0);
      assert.equal(stored, ackedWithFrames(totals), 'stored = acked');
      assert.ok(lateS < 30, `a new process reported within 30 s during the task (${lateS.toFixed(1)} s)`);
      assert.deepEqual(unexpectedErrors(rover), []);
    } finally {
      late?.kill('SIGKILL');
      await rover.stop();
      await oap.cleanup();
      await crowd.end();
    }
  });
});
