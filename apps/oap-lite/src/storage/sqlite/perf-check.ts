/**
 * Quick throughput check of SqliteStorage (not a test, not the team benchmark):
 *   cd apps/oap-lite && node --import tsx src/storage/sqlite/perf-check.ts
 * Writes N records (~20 frames, 2,000 distinct stacks repeated) for one schedule in batches,
 * then times queryProfilingStacks over that schedule.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { offCpu } from '../../core/targets/off-cpu';
import type { ProfilingDataRecord, StackFrame } from '../types';
import { SqliteStorage } from './sqlite-storage';

const N = Number(process.env.N ?? 100_000);
const BATCH = Number(process.env.BATCH ?? 1_000);
const DISTINCT_STACKS = Number(process.env.STACKS ?? 2_000);

const dir = mkdtempSync(join(tmpdir(), 'oap-lite-perf-'));
const storage = new SqliteStorage({ dataDir: dir });
await storage.init();

const stacks: StackFrame[][] = [];
for (let s = 0; s < DISTINCT_STACKS; s++) {
  const frames: StackFrame[] = [];
  for (let f = 0; f < 20; f++) {
    frames.push({
      symbol:
        f < 14
          ? `app::module${f % 7}::function_${(s * 31 + f) % 997}(int, std::string const&)`
          : `kernel_fn_${(s + f) % 300}`,
      stackType: f < 14 ? 'USER_SPACE' : 'KERNEL_SPACE',
    });
  }
  stacks.push(frames);
}
const records: ProfilingDataRecord[] = [];
for (let i = 0; i < N; i++) {
  const s = (i * 7919) % DISTINCT_STACKS;
  records.push({
    scheduleId: 'schedule-perf',
    taskId: 'task-perf',
    stackIdList: `${s}_${s + 1}`,
    targetType: offCpu.type,
    uploadTime: 1_700_000_000_000 + Math.floor(i / 50) * 5_000,
    frames: stacks[s]!,
    count: 10,
    duration: 1_000_000 + s,
  });
}
// a second, unrelated schedule so the query has to skip data
const other = records.slice(0, 20_000).map((r) => ({ ...r, scheduleId: 'schedule-other' }));

let t0 = performance.now();
for (let i = 0; i < records.length; i += BATCH)
  await storage.profilingData.writeProfilingData(records.slice(i, i + BATCH));
let ms = performance.now() - t0;
console.log(`write: ${N} records in ${ms.toFixed(0)} ms = ${Math.round((N / ms) * 1000)} records/s (batch ${BATCH})`);
for (let i = 0; i < other.length; i += BATCH) await storage.profilingData.writeProfilingData(other.slice(i, i + BATCH));
t0 = performance.now();
for (let i = 0; i < 20_000; i += BATCH) await storage.profilingData.writeProfilingData(records.slice(i, i + BATCH));
ms = performance.now() - t0;
console.log(`rewrite (replace) 20000 records: ${Math.round((20_000 / ms) * 1000)} records/s`);

const range = { start: 0, end: Number.MAX_SAFE_INTEGER };
for (const agg of ['COUNT', 'DURATION'] as const) {
  const times: number[] = [];
  let result = await storage.profilingData.queryProfilingStacks(['schedule-perf'], [range], agg);
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    result = await storage.profilingData.queryProfilingStacks(['schedule-perf'], [range], agg);
    times.push(performance.now() - t0);
  }
  const total = result.reduce((a, s) => a + s.value, 0);
  times.sort((a, b) => a - b);
  console.log(
    `query ${agg}: ${result.length} stacks, total ${total}, median ${times[2]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms`,
  );
}
{
  t0 = performance.now();
  const mid = 1_700_000_000_000 + 500 * 5_000;
  const r = await storage.profilingData.queryProfilingStacks(
    ['schedule-perf', 'schedule-other'],
    [
      { start: 0, end: mid },
      { start: mid - 100_000, end: Number.MAX_SAFE_INTEGER },
    ],
    'COUNT',
  );
  console.log(
    `query 2 schedules, 2 overlapping ranges: ${r.length} stacks in ${(performance.now() - t0).toFixed(1)} ms`,
  );
}
await storage.close();
const size = statSync(join(dir, 'oap-lite.db')).size;
console.log(`db file: ${(size / 1024 / 1024).toFixed(1)} MiB for ${N + other.length} records`);
rmSync(dir, { recursive: true, force: true });
