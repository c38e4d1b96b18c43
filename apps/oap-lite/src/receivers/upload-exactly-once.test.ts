/**
 * Exactly-once uploads over real gRPC: a cancelled stream stores nothing (also once it spilled to
 * its staging file), a stream larger than the memory bound is staged on disk and stored whole, and
 * an identical batch sent again (rover's retry after a lost answer) is not counted twice.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EBPFProfilingData } from '@swlite/protocol';
import { newSchedule } from '../services/profiling-service';
import { AgentClient, graphqlOk, hostProcess } from '@swlite/testkit';
import { startTestOap, type TestOap } from '../testing/start';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const SERVICE_ID = `${b64('demo-service')}.1`;
const MEMORY_RECORDS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` distinct stacks of one flush (stack ids 1..n, as rover numbers them), the first carrying the task. */
const flush = (taskId: string, processId: string, start: number, now: number, n: number): EBPFProfilingData[] =>
  Array.from({ length: n }, (_, i) => ({
    ...(i === 0 ? { task: { taskId, processId, profilingStartTime: start, currentTime: now } } : {}),
    onCPU: {
      stacks: [
        { stackType: 'PROCESS_USER_SPACE', stackId: i + 1, stackSymbols: [`leaf_${i}`, `mid_${i % 7}`, 'main'] },
      ],
      dumpCount: 1 + (i % 3),
    },
  }));

const expectedCount = (n: number) => Array.from({ length: n }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0);

describe('exactly-once profiling uploads', () => {
  let oap: TestOap;
  let agent: AgentClient;
  let stagingDir: string;
  let taskId: string;
  let processId: string;

  const storedCount = async (start: number, now: number): Promise<number> => {
    const { scheduleId } = newSchedule(taskId, processId, start, now);
    const stacks = await oap.storage.profilingData.queryProfilingStacks(
      [scheduleId],
      [{ start: 0, end: now + 1 }],
      'COUNT',
    );
    return stacks.reduce((sum, s) => sum + s.value, 0);
  };

  before(async () => {
    stagingDir = mkdtempSync(join(tmpdir(), 'oap-lite-staging-test-'));
    oap = await startTestOap({
      SW_RECEIVER_STAGING_DIR: stagingDir,
      SW_RECEIVER_STAGING_MEMORY_RECORDS: String(MEMORY_RECORDS),
      SW_RECEIVER_COMMIT_RECORDS: '300',
    });
    agent = new AgentClient(oap.grpcAddress, 'rover-exactly-once');
    const res = await agent.reportProcesses([hostProcess('nginx', { pid: 10 })]);
    processId = res.processes[0]!.processId;
    const created = await graphqlOk(
      oap.graphqlUrl,
      `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { status errorReason id } }`,
      {
        r: { serviceId: SERVICE_ID, processLabels: [], startTime: Date.now() + 1, duration: 60, targetType: 'ON_CPU' },
      },
    );
    taskId = created.createEBPFProfilingFixedTimeTask.id;
    assert.ok(taskId, created.createEBPFProfilingFixedTimeTask.errorReason);
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
    rmSync(stagingDir, { recursive: true, force: true });
  });

  it('stores nothing of a stream the client cancels after it spilled to disk, and removes its file', async () => {
    const start = Date.now();
    const now = start + 5_000;
    const call = agent.profiling.collectProfilingData(() => undefined);
    for (const m of flush(taskId, processId, start, now, MEMORY_RECORDS * 3)) call.write(m);
    // The stream is open (no half-close): the server has staged what it received so far.
    for (let i = 0; i < 50 && readdirSync(stagingDir).length === 0; i++) await sleep(20);
    assert.equal(readdirSync(stagingDir).length, 1, 'the stream spilled past its memory bound');
    call.cancel();
    for (let i = 0; i < 50 && readdirSync(stagingDir).length > 0; i++) await sleep(20);
    assert.deepEqual(readdirSync(stagingDir), [], 'the cancelled stream left its staging file');
    assert.equal(await storedCount(start, now), 0);
    const schedules = await oap.storage.tasks.querySchedules(taskId);
    assert.ok(
      schedules.every((s) => s.startTime !== start),
      'no schedule of the cancelled stream',
    );
  });

  it('stages a stream larger than its memory bound on disk and stores all of it', async () => {
    const start = Date.now() + 10;
    const now = start + 5_000;
    const n = MEMORY_RECORDS * 7 + 13;
    await agent.collect(flush(taskId, processId, start, now, n));
    assert.equal(await storedCount(start, now), expectedCount(n));
    assert.deepEqual(readdirSync(stagingDir), []);
  });

  it('counts a batch that is sent again (a retry after a lost answer) once', async () => {
    const start = Date.now() + 20;
    const now = start + 5_000;
    const batch = flush(taskId, processId, start, now, 500);
    await agent.collect(batch);
    await agent.collect(batch);
    assert.equal(await storedCount(start, now), expectedCount(500));
    // The next flush of the same schedule (a later upload time) adds to it.
    await agent.collect(flush(taskId, processId, start, now + 5_000, 10));
    const { scheduleId } = newSchedule(taskId, processId, start, now);
    const stacks = await oap.storage.profilingData.queryProfilingStacks(
      [scheduleId],
      [{ start: 0, end: now + 10_000 }],
      'COUNT',
    );
    assert.equal(
      stacks.reduce((sum, s) => sum + s.value, 0),
      expectedCount(500) + expectedCount(10),
    );
  });
});

describe('the memory bound all streams share (SW_RECEIVER_STAGING_MEMORY_BYTES)', () => {
  it('spills when open streams together pass it, though each is under it, and stores them whole', async () => {
    const stagingDir = mkdtempSync(join(tmpdir(), 'oap-lite-staging-test-'));
    // A record of this test weighs about 370 bytes: two open streams of 300 pass 200,000 together.
    const oap = await startTestOap({
      SW_RECEIVER_STAGING_DIR: stagingDir,
      SW_RECEIVER_STAGING_MEMORY_BYTES: '200000',
    });
    const agent = new AgentClient(oap.grpcAddress, 'rover-shared-bound');
    try {
      const processId = (await agent.reportProcesses([hostProcess('nginx', { pid: 11 })])).processes[0]!.processId;
      const created = await graphqlOk(
        oap.graphqlUrl,
        `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { id } }`,
        {
          r: {
            serviceId: SERVICE_ID,
            processLabels: [],
            startTime: Date.now() + 1,
            duration: 60,
            targetType: 'ON_CPU',
          },
        },
      );
      const taskId = created.createEBPFProfilingFixedTimeTask.id as string;
      const start = Date.now();
      const answers = [0, 1].map((k) => {
        let call!: ReturnType<typeof agent.profiling.collectProfilingData>;
        const answered = new Promise((resolve, reject) => {
          call = agent.profiling.collectProfilingData((err, res) => (err ? reject(err) : resolve(res)));
        });
        for (const m of flush(taskId, processId, start, start + 1_000 * (k + 1), 300)) call.write(m);
        return { call, answered };
      });
      for (let i = 0; i < 100 && readdirSync(stagingDir).length === 0; i++) await sleep(20);
      assert.equal(readdirSync(stagingDir).length, 1, 'the stream that passed the shared bound spilled');
      for (const a of answers) a.call.end();
      await Promise.all(answers.map((a) => a.answered));
      const { scheduleId } = newSchedule(taskId, processId, start, start);
      const stacks = await oap.storage.profilingData.queryProfilingStacks(
        [scheduleId],
        [{ start: 0, end: start + 5_000 }],
        'COUNT',
      );
      assert.equal(
        stacks.reduce((sum, s) => sum + s.value, 0),
        2 * expectedCount(300),
      );
      assert.deepEqual(readdirSync(stagingDir), []);
    } finally {
      agent.close();
      await oap.cleanup();
      rmSync(stagingDir, { recursive: true, force: true });
    }
  });
});
