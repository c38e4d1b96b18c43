/**
 * oap-lite figures: ingest rate of collectProfilingData into storage (stack records/s over real
 * gRPC), analysisEBPFProfilingResult latency for one schedule of 1,000,000 samples in 100,000
 * records (end to end over HTTP), and resident memory idle and under ingest.
 *
 *   npm run bench -w @swlite/oap-lite            (SW_STORAGE=elasticsearch to bench that store)
 */
import type { EBPFProfilingData } from '@swlite/protocol';
import { AgentClient, hostProcess } from '../src/testing/agent-client';
import { graphqlOk } from '../src/testing/graphql-client';
import { startTestOap } from '../src/testing/start';

const RECORDS_INGEST = Number(process.env.BENCH_INGEST_RECORDS ?? 200_000);
const STREAM_BATCH = 5_000;
const CONCURRENT_STREAMS = 4;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** A realistic shape: stacks share prefixes (main → loop → handlers), depth 12–30. */
const makeStacks = (distinct: number): Array<{ user: string[]; kernel: string[] }> => {
  const stacks = [];
  for (let i = 0; i < distinct; i++) {
    const depth = 12 + (i % 19);
    const user = ['main', 'event_loop', `module_${i % 16}`];
    for (let d = 3; d < depth; d++) user.push(`fn_${i % (7 * d)}_${d}`);
    const kernel = i % 3 === 0 ? ['entry_SYSCALL_64', 'do_syscall_64', `ksys_${i % 9}`, 'vfs_write'] : [];
    stacks.push({ user: user.reverse(), kernel: kernel.reverse() });
  }
  return stacks;
};

const message = (
  task: { taskId: string; processId: string; start: number; now: number } | null,
  stack: { user: string[]; kernel: string[] },
  count: number,
): EBPFProfilingData => ({
  ...(task
    ? { task: { taskId: task.taskId, processId: task.processId, profilingStartTime: task.start, currentTime: task.now } }
    : {}),
  onCPU: {
    stacks: [
      { stackType: 'PROCESS_USER_SPACE', stackId: 1, stackSymbols: stack.user },
      ...(stack.kernel.length ? [{ stackType: 'PROCESS_KERNEL_SPACE' as const, stackId: 2, stackSymbols: stack.kernel }] : []),
    ],
    dumpCount: count,
  },
});

const main = async () => {
  const oap = await startTestOap({ SW_EBPF_TASK_MIN_DURATION: '1', SW_STORAGE: process.env.SW_STORAGE ?? 'sqlite' });
  const agent = new AgentClient(oap.grpcAddress, 'bench-rover');
  try {
    await new Promise((r) => setTimeout(r, 500));
    global.gc?.();
    const rssIdle = process.memoryUsage().rss;

    const [proc] = (await agent.reportProcesses([hostProcess('bench-proc')])).processes;
    const serviceId = `${Buffer.from('demo-service').toString('base64')}.1`;
    const created = await graphqlOk(
      oap.graphqlUrl,
      `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { id errorReason } }`,
      { r: { serviceId, processLabels: [], startTime: -1, duration: 60, targetType: 'ON_CPU' } },
    );
    const taskId = created.createEBPFProfilingFixedTimeTask.id as string;
    const processId = proc!.processId;

    // ---- ingest ----
    const stacks = makeStacks(5_000);
    const base = Date.now() - 3_600_000;
    let upload = 0;
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    const ingestStart = performance.now();
    let sent = 0;
    const streamOnce = async () => {
      while (sent < RECORDS_INGEST) {
        const n = Math.min(STREAM_BATCH, RECORDS_INGEST - sent);
        sent += n;
        const now = base + ++upload * 5_000;
        const batch: EBPFProfilingData[] = [];
        for (let i = 0; i < n; i++) {
          batch.push(message(i === 0 ? { taskId, processId, start: base, now } : null, stacks[(upload * 7 + i) % stacks.length]!, 1 + (i % 13)));
        }
        await agent.collect(batch);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_STREAMS }, streamOnce));
    const ingestSeconds = (performance.now() - ingestStart) / 1000;
    clearInterval(sampler);

    // ---- analysis: 1,000,000 samples in 100,000 records in one schedule ----
    const [proc2] = (await agent.reportProcesses([hostProcess('analysis-proc')])).processes;
    const aStart = Date.now() - 7_200_000;
    const records = 100_000;
    const uploads = 50; // 2,000 distinct stacks seen in each of 50 uploads
    const distinct = records / uploads;
    const aStacks = makeStacks(distinct);
    for (let u = 0; u < uploads; u++) {
      const batch: EBPFProfilingData[] = [];
      for (let i = 0; i < distinct; i++) {
        batch.push(message(i === 0 ? { taskId, processId: proc2!.processId, start: aStart, now: aStart + (u + 1) * 5_000 } : null, aStacks[i]!, 10));
      }
      await agent.collect(batch);
    }
    const schedules = await graphqlOk(oap.graphqlUrl, `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId startTime } }`, { t: taskId });
    const schedule = schedules.queryEBPFProfilingSchedules.find((s: { startTime: number }) => s.startTime === aStart);
    const query = `query ($ids: [ID!]!, $ranges: [EBPFProfilingAnalyzeTimeRange!]!) {
      analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $ranges, aggregateType: COUNT) { trees { elements { id parentId symbol stackType dumpCount } } } }`;
    const vars = { ids: [schedule.scheduleId], ranges: [{ start: aStart, end: aStart + uploads * 5_000 + 1 }] };
    const timings: number[] = [];
    let total = 0;
    let elements = 0;
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      const r = await graphqlOk(oap.graphqlUrl, query, vars);
      timings.push(performance.now() - t);
      const trees = r.analysisEBPFProfilingResult.trees;
      total = trees.reduce((s: number, tr: any) => s + tr.elements[0].dumpCount, 0);
      elements = trees.reduce((s: number, tr: any) => s + tr.elements.length, 0);
    }
    timings.shift(); // first run warms caches
    timings.sort((a, b) => a - b);

    const rows = [
      ['storage', oap.config.storage.kind],
      ['ingest (collectProfilingData → storage)', `${Math.round(RECORDS_INGEST / ingestSeconds).toLocaleString()} stack records/s (${RECORDS_INGEST.toLocaleString()} records, ${CONCURRENT_STREAMS} streams)`],
      ['analysis, 1,000,000 samples / 100,000 records', `median ${timings[2]!.toFixed(0)} ms, best ${timings[0]!.toFixed(0)} ms (HTTP+GraphQL end to end; ${elements} tree elements; total ${total.toLocaleString()})`],
      ['resident memory idle', mb(rssIdle)],
      ['resident memory peak under ingest', mb(peakRss)],
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    console.log('\noap-lite benchmark (the client and server share this process; RSS covers both)');
    for (const [k, v] of rows) console.log(`  ${k!.padEnd(width)}  ${v}`);
  } finally {
    agent.close();
    await oap.cleanup();
  }
};

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
