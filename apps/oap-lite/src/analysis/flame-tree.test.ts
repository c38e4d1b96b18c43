/** The tree build against its budget: stops at the limits, before building when it can, and when aborted. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AggregatedStack } from '../storage/types';
import { AnalysisAbortedError, AnalysisBudget, AnalysisLimitError } from './analysis-budget';
import { buildFlameTrees } from './flame-tree';

/** `count` distinct stacks of `depth` user frames under one root: count * (depth - 1) + 1 elements. */
const stacks = (count: number, depth: number): AggregatedStack[] =>
  Array.from({ length: count }, (_, i) => ({
    frames: [
      { symbol: 'main', stackType: 'USER_SPACE' as const },
      ...Array.from({ length: depth - 1 }, (_, d) => ({ symbol: `s${i}_f${d}`, stackType: 'USER_SPACE' as const })),
    ],
    value: 1,
  }));

const limits = (maxElements: number, maxResponseBytes = Number.MAX_SAFE_INTEGER) => ({ maxElements, maxResponseBytes });

test('merges stacks into one tree numbered breadth-first', async () => {
  const [tree] = await buildFlameTrees(stacks(2, 2));
  assert.deepEqual(
    tree!.elements.map((e) => [e.id, e.parentId, e.symbol, e.dumpCount]),
    [
      ['1', '0', 'main', 2],
      ['2', '1', 's0_f0', 1],
      ['3', '1', 's1_f0', 1],
    ],
  );
});

test('refuses before building when the distinct stacks alone exceed the element limit', async () => {
  const budget = new AnalysisBudget(limits(500));
  await assert.rejects(buildFlameTrees(stacks(501, 3), budget), (err: AnalysisLimitError) => {
    assert.equal(err.setting, 'SW_QUERY_MAX_ANALYSIS_ELEMENTS');
    return true;
  });
  assert.equal(budget.used.elements, 0);
});

test('stops building at the element limit, not after the whole tree', async () => {
  const budget = new AnalysisBudget(limits(1000));
  await assert.rejects(buildFlameTrees(stacks(900, 30), budget), AnalysisLimitError);
  assert.equal(budget.used.elements, 1001);
});

test('stops at the response-byte limit', async () => {
  const budget = new AnalysisBudget(limits(Number.MAX_SAFE_INTEGER, 10_000));
  await assert.rejects(buildFlameTrees(stacks(200, 5), budget), (err: AnalysisLimitError) => {
    assert.equal(err.setting, 'SW_QUERY_MAX_ANALYSIS_RESPONSE_BYTES');
    assert.match(err.message, /exceed 10000 bytes/);
    return true;
  });
  assert.ok(budget.used.bytes > 10_000 && budget.used.bytes < 10_200);
});

test('analyses of one request share the budget', async () => {
  const spent = { elements: 0, bytes: 0 };
  await buildFlameTrees(stacks(10, 10), new AnalysisBudget(limits(150), undefined, spent));
  assert.equal(spent.elements, 91);
  await assert.rejects(buildFlameTrees(stacks(10, 10), new AnalysisBudget(limits(150), undefined, spent)), AnalysisLimitError);
});

test('an aborted request stops the build at its next slice, and gives the event loop back meanwhile', async () => {
  const input = stacks(200_000, 6);
  const controller = new AbortController();
  const budget = new AnalysisBudget(limits(Number.MAX_SAFE_INTEGER), controller.signal);
  let timerRan = false;
  // Runs only when the build yields; the build must then see the abort and stop.
  setImmediate(() => {
    timerRan = true;
    controller.abort();
  });
  const began = performance.now();
  await assert.rejects(buildFlameTrees(input, budget), AnalysisAbortedError);
  const ms = performance.now() - began;
  assert.ok(timerRan);
  assert.ok(budget.used.elements < 1_000_001, 'the whole tree was built before the abort was seen');
  assert.ok(ms < 500, `the abort was seen after ${ms} ms`);
});
