/**
 * An analysis thread that passes its heap limit (SW_QUERY_MAX_ANALYSIS_THREAD_HEAP_MB) dies alone:
 * the analysis is answered a limit error naming the setting, the pool starts a new thread, and the
 * next analysis is answered. Real SQLite reader threads over a real database file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';
import type { ProfilingDataRecord } from '../storage/types';
import { AnalysisLimitError, unlimitedBudget } from './analysis-budget';
import { ANALYSIS_HEAP_SETTING } from './thread-memory';

const HEAP_MB = 16;
const ALL = [{ start: 0, end: Number.MAX_SAFE_INTEGER }];

/** `n` stacks of `depth` frames, every frame a symbol of its own: a forest of n * depth elements. */
const distinctStacks = (scheduleId: string, n: number, depth: number): ProfilingDataRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    scheduleId,
    taskId: 't1',
    stackIdList: String(i),
    targetType: 'ON_CPU',
    uploadTime: 1_000,
    frames: Array.from({ length: depth }, (_, d) => ({
      symbol: `a_rather_long_symbol_name_${i}_at_depth_${d}`,
      stackType: 'USER_SPACE',
    })),
    count: 1,
    duration: 0,
  }));

test('an analysis over the thread heap limit is refused and the server analyses on', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'oap-lite-heap-'));
  const storage = new SqliteStorage({ dataDir, readThreads: 1, analysisThreadHeapMb: HEAP_MB });
  // The pool's threads do not keep a process alive (a server has its sockets): this test has a timer.
  const alive = setInterval(() => undefined, 1_000);
  try {
    await storage.init();
    const big = distinctStacks('big', 40_000, 30);
    for (let i = 0; i < big.length; i += 5_000) await storage.profilingData.writeProfilingData(big.slice(i, i + 5_000));
    await storage.profilingData.writeProfilingData(distinctStacks('small', 3, 4));

    await assert.rejects(
      storage.profilingData.analyzeProfilingStacks(['big'], ALL, 'COUNT', unlimitedBudget()),
      (err: unknown) =>
        err instanceof AnalysisLimitError &&
        err.setting === ANALYSIS_HEAP_SETTING &&
        err.limit === HEAP_MB &&
        err.message.includes(`${HEAP_MB} MB`),
    );
    const forest = await storage.profilingData.analyzeProfilingStacks(['small'], ALL, 'COUNT', unlimitedBudget());
    assert.equal(forest.treeEnds.length, 3);
    assert.equal(forest.parents.length, 12);
  } finally {
    clearInterval(alive);
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
