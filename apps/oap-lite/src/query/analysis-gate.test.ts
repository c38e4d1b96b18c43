/** Turns for analyses and the per-analysis timeout, with real timers and abort signals. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { AnalysisAbortedError, AnalysisLimitError } from '../analysis/analysis-budget';
import { AnalysisGate } from './analysis-gate';
import { AnalysisScope } from './analysis-scope';

const never = new AbortController().signal;

/** Work that holds its turn until released. */
const held = () => {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { release, work: () => done };
};

test('runs at most maxConcurrent analyses, queues maxQueued, refuses the rest at once', async () => {
  const gate = new AnalysisGate(1, 1);
  const first = held();
  const running = gate.run(never, first.work);
  let secondStarted = false;
  const second = gate.run(never, async () => {
    secondStarted = true;
  });
  await assert.rejects(
    gate.run(never, async () => 1),
    (err: AnalysisLimitError) => {
      assert.equal(err.setting, 'SW_QUERY_MAX_CONCURRENT_ANALYSES');
      assert.match(err.message, /1 analyses are running and 1 waiting.*try again shortly/);
      return true;
    },
  );
  assert.deepEqual(gate.load, { running: 1, waiting: 1 });
  assert.equal(secondStarted, false);
  first.release();
  await running;
  await second;
  assert.equal(secondStarted, true);
  assert.deepEqual(gate.load, { running: 0, waiting: 0 });
});

test('a waiter whose client leaves gives up its place', async () => {
  const gate = new AnalysisGate(1, 4);
  const first = held();
  const running = gate.run(never, first.work);
  const client = new AbortController();
  const waiting = gate.run(client.signal, async () => assert.fail('a cancelled analysis ran'));
  client.abort();
  await assert.rejects(waiting, AnalysisAbortedError);
  assert.deepEqual(gate.load, { running: 1, waiting: 0 });
  first.release();
  await running;
  assert.deepEqual(gate.load, { running: 0, waiting: 0 });
});

test('an analysis past SW_CORE_MAX_DURATION_OF_ANALYZE_EBPF_PROFILING stops with an error naming it', async () => {
  const scope = new AnalysisScope({
    gate: new AnalysisGate(1, 0),
    limits: { maxElements: 1e9, maxResponseBytes: 1e9 },
    timeoutSeconds: 1,
    requestSignal: never,
  });
  const began = performance.now();
  await assert.rejects(
    scope.run(async (budget) => {
      for (;;) {
        await sleep(20);
        budget.checkAborted();
      }
    }),
    (err: AnalysisLimitError) => {
      assert.equal(err.setting, 'SW_CORE_MAX_DURATION_OF_ANALYZE_EBPF_PROFILING');
      assert.match(err.message, /longer than 1 s/);
      return true;
    },
  );
  const ms = performance.now() - began;
  assert.ok(ms >= 990 && ms < 1500, `stopped after ${ms} ms`);
});
