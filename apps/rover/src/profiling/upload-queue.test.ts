/** The upload buffer: order, bound, backoff, and the early retry when the backend is back. */
import type { EBPFProfilingData } from '@swlite/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { UploadQueue } from './upload-queue';

const log = pino({ level: 'silent' });
const message = (n: number) => ({ task: { taskId: `t${n}` } }) as unknown as EBPFProfilingData;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A backend that is up or down, and records what it accepted. */
const backend = () => {
  const state = { up: true, accepted: [] as string[], attempts: 0 };
  const send = async (batch: EBPFProfilingData[]) => {
    state.attempts++;
    if (!state.up) throw new Error('14 UNAVAILABLE: connection refused');
    state.accepted.push(...batch.map((m) => String(m.task?.taskId)));
  };
  return { state, send };
};

describe('UploadQueue', () => {
  it('sends batches in order while the backend is up', async () => {
    const { state, send } = backend();
    const q = new UploadQueue(send, log);
    q.push([message(1), message(2)]);
    q.push([message(3)]);
    await sleep(10);
    assert.deepEqual(state.accepted, ['t1', 't2', 't3']);
    assert.equal(q.pending, 0);
    assert.equal(q.stats.sentMessages, 3);
  });

  it('holds data while the backend is down and drops the oldest past its bound', async () => {
    const { state, send } = backend();
    state.up = false;
    const q = new UploadQueue(send, log, { maxBufferedMessages: 3, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    for (let i = 1; i <= 5; i++) q.push([message(i)]);
    await sleep(10);
    assert.equal(q.pending, 3);
    assert.equal(q.stats.droppedMessages, 2);
    state.up = true;
    q.retryNow();
    await sleep(10);
    assert.deepEqual(state.accepted, ['t3', 't4', 't5']);
    q.close();
  });

  it('retryNow ends a long backoff at once; without it the data waits for the backoff', async () => {
    const { state, send } = backend();
    state.up = false;
    const q = new UploadQueue(send, log, { maxBufferedMessages: 100, initialBackoffMs: 200, maxBackoffMs: 60_000 });
    q.push([message(1)]);
    await sleep(10);
    assert.equal(state.attempts, 1);
    state.up = true;
    await sleep(50);
    assert.deepEqual(state.accepted, [], 'still waiting for the 200 ms backoff');
    await sleep(250);
    assert.deepEqual(state.accepted, ['t1'], 'sent when the backoff ended');

    state.up = false;
    q.push([message(2)]);
    await sleep(10);
    state.up = true;
    q.retryNow();
    await sleep(10);
    assert.deepEqual(state.accepted, ['t1', 't2'], 'sent at once, before the backoff');
    q.retryNow(); // nothing pending: no extra attempt
    await sleep(10);
    assert.equal(state.attempts, 4);
    q.close();
  });

  it('counts the stacks of acknowledged and of dropped messages apart', async () => {
    const { state, send } = backend();
    state.up = false;
    const q = new UploadQueue(send, log, { maxBufferedMessages: 2, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    const onCpu = (n: number) =>
      ({ onCPU: { stacks: [{ stackSymbols: ['main'] }], dumpCount: n } }) as unknown as EBPFProfilingData;
    const offCpu = (n: number) =>
      ({ offCPU: { stacks: [], switchCount: n, duration: 1 } }) as unknown as EBPFProfilingData;
    q.push([onCpu(5)]);
    q.push([onCpu(7), offCpu(3)]);
    await sleep(10);
    assert.deepEqual([q.stats.droppedMessages, q.stats.droppedSamples], [1, 5]);
    state.up = true;
    q.retryNow();
    await sleep(10);
    assert.deepEqual([q.stats.sentMessages, q.stats.sentSamples, q.stats.sentSamplesWithoutFrames], [2, 10, 3]);
    q.close();
  });
});
