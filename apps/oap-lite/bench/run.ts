/**
 * oap-lite figures: ingest rate of collectProfilingData into storage (stack records/s over real
 * gRPC), analysisEBPFProfilingResult latency for one schedule of 1,000,000 samples in 100,000
 * records (end to end over HTTP), and resident memory idle and under ingest.
 *
 *   npm run bench -w @swlite/oap-lite            (SW_STORAGE=elasticsearch to bench that store)
 *
 * With SW_STORAGE=elasticsearch, SW_STORAGE_ES_CLUSTER_NODES names the cluster; without it a
 * single test node is started here (tools/elasticsearch/start.sh, via startTestElasticsearch) and
 * stopped at the end. The bench writes into a fresh SW_NAMESPACE and drops it afterwards.
 * BENCH_JSON=1 also prints one `BENCH_RESULT {...}` line for bench/compare.ts.
 *
 * oap-lite runs as its own process (the bundle when built), so its CPU and memory are its own;
 * the client pre-encodes every message, so the rate measures the server, not the client.
 */
import type { EBPFProfilingData } from '@swlite/protocol';
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { dropNamespace } from '../src/storage/elasticsearch/elasticsearch-storage';
import {
  compatibleWith8,
  startTestElasticsearch,
  type TestElasticsearch,
} from '../src/storage/elasticsearch/test-node';
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
// The e2e harness starts the real programs; imported by path, as e2e itself depends on oap-lite.
import { AgentClient, graphqlOk, hostProcess, startOap } from '@swlite/testkit';

const RECORDS_INGEST = Number(process.env.BENCH_INGEST_RECORDS ?? 200_000);
const STREAM_BATCH = 5_000;
const CONCURRENT_STREAMS = 4;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** A realistic shape: stacks share prefixes (main → loop → handlers), depth 12–30. */
/** Each stack has its own id, as the kernel's stack maps give (stackIdList is the OAP record key). */
const makeStacks = (distinct: number): Array<{ id: number; user: string[]; kernel: string[] }> => {
  const stacks = [];
  for (let i = 0; i < distinct; i++) {
    const depth = 12 + (i % 19);
    const user = ['main', 'event_loop', `module_${i % 16}`];
    for (let d = 3; d < depth; d++) user.push(`fn_${i % (7 * d)}_${d}`);
    const kernel = i % 3 === 0 ? ['entry_SYSCALL_64', 'do_syscall_64', `ksys_${i % 9}`, 'vfs_write'] : [];
    stacks.push({ id: i, user: user.reverse(), kernel: kernel.reverse() });
  }
  return stacks;
};

const message = (
  task: { taskId: string; processId: string; start: number; now: number } | null,
  stack: { id: number; user: string[]; kernel: string[] },
  count: number,
): EBPFProfilingData => ({
  ...(task
    ? {
        task: { taskId: task.taskId, processId: task.processId, profilingStartTime: task.start, currentTime: task.now },
      }
    : {}),
  onCPU: {
    stacks: [
      { stackType: 'PROCESS_USER_SPACE', stackId: 2 * stack.id + 1, stackSymbols: stack.user },
      ...(stack.kernel.length
        ? [{ stackType: 'PROCESS_KERNEL_SPACE' as const, stackId: 2 * stack.id + 2, stackSymbols: stack.kernel }]
        : []),
    ],
    dumpCount: count,
  },
});

/** Streams pre-encoded EBPFProfilingData messages as one collectProfilingData call. */
const uploadEncoded = (client: grpc.Client, messages: Buffer[]): Promise<void> =>
  new Promise((resolve, reject) => {
    const call = client.makeClientStreamRequest(
      '/skywalking.v3.EBPFProfilingService/collectProfilingData',
      (b: Buffer) => b,
      (b: Buffer) => b,
      (err) => (err ? reject(err) : resolve()),
    );
    for (const m of messages) call.write(m);
    call.end();
  });

const encode = (() => {
  const method = loadSkyWalkingGrpc().skywalking.v3.EBPFProfilingService.service.collectProfilingData;
  return (message: EBPFProfilingData): Buffer => method.requestSerialize(message);
})();

/** CPU seconds (user + system) a process has used. */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Resident memory of another process (the Elasticsearch JVM), or 0 when unknown. */
const rssOf = (pid: number): number => {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
};

const main = async () => {
  const kind = process.env.SW_STORAGE ?? 'sqlite';
  const env: Record<string, string> = { SW_EBPF_TASK_MIN_DURATION: '1', SW_STORAGE: kind };
  let es: TestElasticsearch | undefined;
  let esPid = Number(process.env.BENCH_ES_PID ?? 0);
  const namespace = `bench${process.pid}`;
  if (kind === 'elasticsearch') {
    let nodes = process.env.SW_STORAGE_ES_CLUSTER_NODES;
    if (!nodes) {
      es = await startTestElasticsearch({ heap: process.env.SWLITE_ES_HEAP ?? '1g' });
      nodes = es.url.replace(/^https?:\/\//, '');
      esPid = es.pid;
      console.log(`started an Elasticsearch node at ${es.url} in ${(es.startedInMs / 1000).toFixed(1)} s`);
    }
    env.SW_STORAGE_ES_CLUSTER_NODES = nodes;
    env.SW_NAMESPACE = process.env.SW_NAMESPACE ?? namespace;
  }
  const oap = await startOap({ ...env, SW_LOG_LEVEL: 'warn' });
  const oapPid = oap.child.pid!;
  const agent = new AgentClient(oap.grpcAddress, 'bench-rover');
  const raw = new grpc.Client(oap.grpcAddress, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  try {
    await new Promise((r) => setTimeout(r, 1_000));
    const rssIdle = rssOf(oapPid);

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
    // Encoded before the clock starts: what is timed is the server receiving and storing.
    const batches: Buffer[][] = [];
    for (let sent = 0; sent < RECORDS_INGEST; sent += STREAM_BATCH) {
      const n = Math.min(STREAM_BATCH, RECORDS_INGEST - sent);
      const now = base + ++upload * 5_000;
      const batch: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        batch.push(
          encode(
            message(
              i === 0 ? { taskId, processId, start: base, now } : null,
              stacks[(upload * 7 + i) % stacks.length]!,
              1 + (i % 13),
            ),
          ),
        );
      }
      batches.push(batch);
    }
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(oapPid))), 50);
    const cpuBefore = cpuSeconds(oapPid);
    const ingestStart = performance.now();
    let next = 0;
    const streamOnce = async () => {
      while (next < batches.length) await uploadEncoded(raw, batches[next++]!);
    };
    await Promise.all(Array.from({ length: CONCURRENT_STREAMS }, streamOnce));
    const ingestSeconds = (performance.now() - ingestStart) / 1000;
    const ingestCpu = (cpuSeconds(oapPid) - cpuBefore) / ingestSeconds;
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
        batch.push(
          message(
            i === 0 ? { taskId, processId: proc2!.processId, start: aStart, now: aStart + (u + 1) * 5_000 } : null,
            aStacks[i]!,
            10,
          ),
        );
      }
      await agent.collect(batch);
    }
    const schedules = await graphqlOk(
      oap.graphqlUrl,
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId startTime } }`,
      { t: taskId },
    );
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
      ['storage', kind],
      [
        'ingest (collectProfilingData → storage)',
        `${Math.round(RECORDS_INGEST / ingestSeconds).toLocaleString()} stack records/s (${RECORDS_INGEST.toLocaleString()} records, ${CONCURRENT_STREAMS} streams)`,
      ],
      [
        'analysis, 1,000,000 samples / 100,000 records',
        `median ${timings[2]!.toFixed(0)} ms, best ${timings[0]!.toFixed(0)} ms (HTTP+GraphQL end to end; ${elements} tree elements; total ${total.toLocaleString()})`,
      ],
      ['oap-lite CPU during ingest', `${(ingestCpu * 100).toFixed(0)}% of one core`],
      ['oap-lite resident memory idle', mb(rssIdle)],
      ['oap-lite resident memory peak under ingest', mb(peakRss)],
      ...(esPid ? [['Elasticsearch JVM resident memory (after the run)', mb(rssOf(esPid))]] : []),
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    console.log('\noap-lite benchmark (oap-lite in its own process; the client sends pre-encoded messages)');
    for (const [k, v] of rows) console.log(`  ${k!.padEnd(width)}  ${v}`);
    if (process.env.BENCH_JSON === '1') {
      const result = {
        storage: kind,
        ingestRecordsPerSecond: Math.round(RECORDS_INGEST / ingestSeconds),
        ingestRecords: RECORDS_INGEST,
        analysisMedianMs: Math.round(timings[2]!),
        analysisBestMs: Math.round(timings[0]!),
        analysisTotal: total,
        treeElements: elements,
        rssIdleBytes: rssIdle,
        rssPeakBytes: peakRss,
        esRssBytes: rssOf(esPid),
      };
      console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
    }
  } finally {
    agent.close();
    raw.close();
    await oap.cleanup();
    if (kind === 'elasticsearch' && es === undefined && !process.env.SW_NAMESPACE) {
      // A cluster we did not start: remove what the bench wrote.
      const admin = new Client({
        node: `http://${env.SW_STORAGE_ES_CLUSTER_NODES!.split(',')[0]}`,
        ...compatibleWith8(),
      });
      await dropNamespace(admin, namespace).catch(() => {});
      await admin.close();
    }
    await es?.stop();
  }
};

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
