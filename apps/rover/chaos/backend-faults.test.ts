/**
 * rover under faults (npm run chaos -w @swlite/rover; root/BPF): the real rover and oap-lite as
 * processes, a real C workload profiled ON_CPU. Each case injects one fault and then checks, by
 * sums, that nothing was lost and nothing doubled: the samples oap-lite stores for the task equal
 * the samples in the messages oap-lite acknowledged to rover (rover's own totals, logged when it
 * stops), with none dropped and none left in its buffer.
 * CHAOS_OUTAGE_SECONDS (60) sets how long oap-lite stays down in the outage case.
 */
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildWorkload,
  createTask,
  processNames,
  runWorkload,
  sleep,
  startOap,
  startRover,
  waitFor,
  type OapProcess,
  type RoverProcess,
} from '@swlite/testkit';
import {
  ackedWithFrames,
  logLines,
  settled,
  rssMiB,
  stopAndReadTotals,
  storedSamples,
  storedSamplesWithin,
  unexpectedErrors,
  watchRss,
} from './support';

const skip = bpfTestSkip();
const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_SECONDS ?? 60) * 1000;
const NAME = 'swlite-chaos-wl';

const waitReported = (oap: OapProcess, pid: number) =>
  waitFor(
    `${NAME} (${pid}) reported`,
    async () => (await processNames(oap.graphqlUrl, NAME)).includes(`${NAME}-${pid}`),
    30_000,
  );

const taskFinished = (rover: RoverProcess, taskId: string) =>
  logLines(rover, 'profiling task finished').some((l) => l.task === taskId);

/** A fresh oap-lite and rover; `run` gets them and may replace oap-lite (same ports and data). */
const withPair = async (
  run: (ctx: { oap: OapProcess; rover: RoverProcess; swap: (o: OapProcess) => void }) => Promise<void>,
) => {
  let oap = await startOap({ SW_LOG_LEVEL: 'warn' });
  const rover = await startRover({ backend: oap.grpcAddress, matchCmd: NAME });
  try {
    await run({ oap, rover, swap: (o) => (oap = o) });
  } finally {
    await rover.stop();
    await oap.cleanup();
  }
};

const sameOap = (oap: OapProcess) =>
  startOap({ SW_LOG_LEVEL: 'warn' }, { grpcPort: oap.grpcPort, httpPort: oap.httpPort, dataDir: oap.dataDir });

describe('rover under backend and target faults', { skip }, () => {
  const binary = buildWorkload(NAME);

  it(`oap-lite down ${OUTAGE_MS / 1000} s mid-task: rover's buffer stays bounded, and every acked sample arrives once`, async (t) => {
    await withPair(async ({ oap, rover, swap }) => {
      const wl = runWorkload(binary, 'cpu', OUTAGE_MS / 1000 + 60);
      try {
        await waitReported(oap, wl.pid);
        const task = await createTask(oap.graphqlUrl, NAME, 'ON_CPU', OUTAGE_MS / 1000 + 20);
        await waitFor('task started', () => logLines(rover, 'profiling task started').length > 0, 20_000, rover);
        // The outage starts once samples flow (the symbol tables are loaded): RSS is then steady.
        await waitFor(
          'first samples stored',
          async () => (await storedSamples(oap.graphqlUrl, task.taskId)) > 0,
          40_000,
          rover,
        );
        await sleep(4_000);
        const pid = rover.child.pid!;
        const rssBefore = rssMiB(pid);
        await oap.stop();
        const down = Date.now();
        const rss = watchRss(pid);
        await sleep(OUTAGE_MS);
        const peak = rss.stop();
        const rssEnd = rssMiB(pid);
        const warnedBuffered = logLines(rover, 'cannot upload profiling data; will retry').map((l) =>
          Number(l.buffered),
        );
        const back = await sameOap(oap);
        swap(back);
        const up = Date.now();
        await waitFor(
          'uploads resumed',
          () => logLines(rover, 'profiling data uploads resumed').length > 0,
          30_000,
          rover,
        );
        await waitFor('task finished', () => taskFinished(rover, task.taskId), OUTAGE_MS + 60_000, rover);
        await settled(back.graphqlUrl, [task.taskId]);
        const rssAfter = rssMiB(pid);
        const totals = await stopAndReadTotals(rover);
        const stored = await storedSamples(back.graphqlUrl, task.taskId);
        const duringOutage = await storedSamplesWithin(back.graphqlUrl, task.taskId, down, up);
        const figures =
          `rover RSS ${rssBefore.toFixed(1)} MiB before the outage, peak ${peak.toFixed(1)} MiB while oap-lite was down ` +
          `(${OUTAGE_MS / 1000} s), ${rssEnd.toFixed(1)} MiB at its end, ${rssAfter.toFixed(1)} MiB after the task; buffered messages at the retry warnings: ${warnedBuffered.join(', ') || 'none'}; ` +
          `failed attempts ${totals.failedAttempts}; acked samples ${totals.sentSamples} (${totals.sentSamplesWithoutFrames} without frames) in ${totals.sentMessages} messages, ` +
          `stored ${stored} (${duringOutage} taken during the outage), dropped ${totals.droppedSamples}`;
        t.diagnostic(figures);
        console.log(figures);
        assert.ok(totals.failedAttempts > 0, 'the outage was felt by the uploads');
        assert.ok(duringOutage > 0, 'samples taken while oap-lite was down reached it afterwards');
        assert.equal(totals.droppedMessages, 0, 'nothing dropped (the outage holds far less than the buffer bound)');
        assert.equal(totals.bufferedMessages, 0, 'nothing left in the buffer');
        assert.equal(stored, ackedWithFrames(totals), 'stored = acked: nothing lost, nothing doubled');
        assert.ok(peak - rssBefore < 64, `RSS grew ${(peak - rssBefore).toFixed(1)} MiB during the outage`);
        assert.deepEqual(unexpectedErrors(rover), []);
      } finally {
        wl.child.kill();
        await wl.done;
      }
    });
  });

  it('oap-lite killed (-9) and restarted mid-task: no acked batch lost, none doubled', async (t) => {
    await withPair(async ({ oap, rover, swap }) => {
      const wl = runWorkload(binary, 'cpu', 60);
      try {
        await waitReported(oap, wl.pid);
        const task = await createTask(oap.graphqlUrl, NAME, 'ON_CPU', 24);
        await waitFor('task started', () => logLines(rover, 'profiling task started').length > 0, 20_000, rover);
        // Kills at 7.0 s with a 2 s flush: the kill lands near an upload, before or during it.
        await sleep(7_000);
        await oap.kill();
        const back = await sameOap(oap);
        swap(back);
        await waitFor('task finished', () => taskFinished(rover, task.taskId), 60_000, rover);
        await settled(back.graphqlUrl, [task.taskId]);
        const totals = await stopAndReadTotals(rover);
        const stored = await storedSamples(back.graphqlUrl, task.taskId);
        t.diagnostic(
          `acked samples ${totals.sentSamples} (${totals.sentSamplesWithoutFrames} without frames) in ${totals.sentMessages} messages, stored ${stored}; failed attempts ${totals.failedAttempts}`,
        );
        assert.ok(totals.sentSamples > 0);
        assert.equal(totals.droppedMessages + totals.bufferedMessages, 0);
        assert.equal(stored, ackedWithFrames(totals), 'stored = acked');
        assert.deepEqual(unexpectedErrors(rover), []);
      } finally {
        wl.child.kill();
        await wl.done;
      }
    });
  });

  it('the target exits mid-task: the task ends cleanly, rover keeps running and runs the next task', async (t) => {
    await withPair(async ({ oap, rover }) => {
      const first = runWorkload(binary, 'cpu', 120);
      await waitReported(oap, first.pid);
      const task1 = await createTask(oap.graphqlUrl, NAME, 'ON_CPU', 60);
      // Exits mid-task once its samples flow (a busy machine may take a while to give it CPU).
      await waitFor(
        'task 1 samples stored',
        async () => (await storedSamples(oap.graphqlUrl, task1.taskId)) > 0,
        45_000,
        rover,
      );
      first.child.kill('SIGKILL');
      await first.done;
      const exited = Date.now();
      // Discovery (scan every 500 ms here) sees it gone and the runner stops with its final flush.
      await waitFor('task 1 finished after its process exited', () => taskFinished(rover, task1.taskId), 15_000, rover);
      const endedAfterMs = Date.now() - exited;
      assert.ok(Date.now() < task1.startTime + 60_000, 'ended by the exit, not by the duration');

      const second = runWorkload(binary, 'cpu', 30);
      try {
        await waitReported(oap, second.pid);
        const task2 = await createTask(oap.graphqlUrl, NAME, 'ON_CPU', 12);
        await waitFor('task 2 finished', () => taskFinished(rover, task2.taskId), 40_000, rover);
        await settled(oap.graphqlUrl, [task1.taskId, task2.taskId]);
        assert.equal(rover.child.exitCode, null, 'rover still runs');
        const totals = await stopAndReadTotals(rover);
        const [s1, s2] = [
          await storedSamples(oap.graphqlUrl, task1.taskId),
          await storedSamples(oap.graphqlUrl, task2.taskId),
        ];
        t.diagnostic(
          `task 1 ended ${endedAfterMs} ms after its process exited; stored ${s1} + ${s2}, acked ${totals.sentSamples} (${totals.sentSamplesWithoutFrames} of them without frames)`,
        );
        assert.ok(s1 > 0 && s2 > 0, `both tasks have samples (${s1}, ${s2})`);
        assert.equal(s1 + s2, ackedWithFrames(totals), 'stored = acked');
        assert.deepEqual(unexpectedErrors(rover), []);
      } finally {
        second.child.kill();
        await second.done;
      }
    });
  });
});
