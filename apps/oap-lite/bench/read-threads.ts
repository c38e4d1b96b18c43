import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SqliteStorage } from '../src/storage/sqlite/sqlite-storage';
const dir = mkdtempSync(join(tmpdir(), 'lag-'));
const N = Number(process.argv[2] ?? 50000);
const w = new SqliteStorage({ dataDir: dir });
await w.init();
await w.tasks.upsertSchedule({ scheduleId: 's1', taskId: 't1', processId: 'p', startTime: 1, endTime: 2 });
for (let b = 0; b < N; b += 5000) {
  const recs = [];
  for (let i = b; i < b + 5000; i++)
    recs.push({
      scheduleId: 's1',
      taskId: 't1',
      stackIdList: String(i),
      targetType: 'ON_CPU' as const,
      uploadTime: 1000,
      frames: Array.from({ length: 30 }, (_, d) => ({
        symbol: `fn_${d}_${i % (d * 1000 + 1)}_${'x'.repeat(20)}`,
        stackType: 'USER_SPACE' as const,
      })),
      count: 1,
      duration: 0,
    });
  await w.profilingData.writeProfilingData(recs);
}
await w.close();
for (const threads of [0, 2]) {
  const s = new SqliteStorage({ dataDir: dir, readThreads: threads });
  await s.init();
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const r = await s.profilingData.queryProfilingStacks(['s1'], [{ start: 0, end: 5000 }], 'COUNT');
  const took = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  await new Promise((resolve) => setTimeout(resolve, 20));
  lag.disable();
  console.log({
    threads,
    stacks: r.length,
    tookMs: Math.round(took),
    mainThreadBusyMs: Math.round(elu.active),
    mainThreadUtilization: Number(elu.utilization.toFixed(2)),
    maxEventLoopDelayMs: Math.round(lag.max / 1e6),
    p99EventLoopDelayMs: Math.round(lag.percentile(99) / 1e6),
  });
  await s.close();
}
