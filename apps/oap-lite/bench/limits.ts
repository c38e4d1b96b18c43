/**
 * The worst-case queries of the "bounded work per request" limits, measured end to end over
 * HTTP: one schedule holding 100,000 distinct stacks of depth 30 (nothing shared below the
 * root), then analysisEBPFProfilingResult once and the same field under 10 aliases in one
 * request, each with the latency of a gRPC queryTasks issued while it runs.
 *
 *   npx tsx apps/oap-lite/bench/limits.ts       (SW_* variables try other limits)
 *
 * BENCH_DATA_DIR keeps the ingested data between runs (the ingest takes most of a run);
 * BENCH_STACKS and BENCH_DEPTH change the shape.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient, hostProcess, onCpuData, graphqlOk } from '@swlite/testkit';
import { startTestOap, type TestOap } from '../src/testing/start';

const STACKS = Number(process.env.BENCH_STACKS ?? 100_000);
const DEPTH = Number(process.env.BENCH_DEPTH ?? 30);
const PER_STREAM = 20_000;

const ANALYSIS = (alias: string) =>
  `${alias}: analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $ranges, aggregateType: COUNT) ` +
  '{ tip trees { elements { id parentId symbol stackType dumpCount } } }';
const SIGNATURE = 'query ($ids: [ID!]!, $ranges: [EBPFProfilingAnalyzeTimeRange!]!)';

interface Fixture {
  scheduleId: string;
  start: number;
}

const ingest = async (oap: TestOap, agent: AgentClient): Promise<Fixture> => {
  const [proc] = (await agent.reportProcesses([hostProcess('worst')])).processes;
  const serviceId = `${Buffer.from('demo-service').toString('base64')}.1`;
  const start = Date.now() - 60_000;
  const created = await graphqlOk(
    oap.graphqlUrl,
    `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { id } }`,
    { r: { serviceId, processLabels: [], startTime: start, duration: 60, targetType: 'ON_CPU' } },
  );
  const taskId = created.createEBPFProfilingFixedTimeTask.id as string;
  const task = { taskId, processId: proc!.processId, start, now: start + 5_000 };
  const began = performance.now();
  for (let from = 0; from < STACKS; from += PER_STREAM) {
    const messages = [];
    for (let i = from; i < Math.min(STACKS, from + PER_STREAM); i++) {
      const user = [];
      for (let d = DEPTH - 1; d >= 1; d--) user.push(`stack_${i}_frame_${d}`);
      user.push('main');
      const message = onCpuData(i === from ? task : null, user, [], 1);
      // Distinct stack ids: the OAP keys a record by (schedule, stack ids, upload time).
      message.onCPU!.stacks![0]!.stackId = i;
      messages.push(message);
    }
    await agent.collect(messages);
  }
  console.log(`ingested ${STACKS} stacks of depth ${DEPTH} in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  const schedules = await graphqlOk(
    oap.graphqlUrl,
    `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId } }`,
    { t: taskId },
  );
  return { scheduleId: schedules.queryEBPFProfilingSchedules[0].scheduleId as string, start };
};

/** Posts the query; meanwhile (50 ms in) times one gRPC queryTasks. */
const measure = async (oap: TestOap, agent: AgentClient, query: string, variables: object) => {
  const began = performance.now();
  const grpc = new Promise<number>((resolve) =>
    setTimeout(() => {
      const sent = performance.now();
      void agent.queryTasks(0).then(() => resolve(performance.now() - sent));
    }, 50),
  );
  const response = await fetch(oap.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  const ms = performance.now() - began;
  const body = JSON.parse(text) as { errors?: Array<{ message: string }> };
  return { ms, bytes: text.length, grpcMs: await grpc, error: body.errors?.[0]?.message };
};

const main = async () => {
  const dataDir = process.env.BENCH_DATA_DIR;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const saved = dataDir ? join(dataDir, 'bench-limits.json') : '';
  const env = { SW_EBPF_TASK_MIN_DURATION: '1', SW_LOG_LEVEL: 'error' };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('SW_') && v !== undefined) Object.assign(env, { [k]: v });
  const oap = await startTestOap(env, ...(dataDir ? [dataDir] : []));
  const agent = new AgentClient(oap.grpcAddress);
  try {
    const fixture: Fixture =
      saved && existsSync(saved) ? (JSON.parse(readFileSync(saved, 'utf8')) as Fixture) : await ingest(oap, agent);
    if (saved) writeFileSync(saved, JSON.stringify(fixture));
    const variables = { ids: [fixture.scheduleId], ranges: [{ start: fixture.start - 1, end: fixture.start + 60_000 }] };
    for (const aliases of [1, 10]) {
      const fields = Array.from({ length: aliases }, (_, i) => ANALYSIS(`a${i}`)).join(' ');
      const r = await measure(oap, agent, `${SIGNATURE} { ${fields} }`, variables);
      console.log(
        `${aliases} alias(es): answered in ${r.ms.toFixed(0)} ms, ${(r.bytes / 1e6).toFixed(1)} MB; ` +
          `gRPC queryTasks meanwhile ${r.grpcMs.toFixed(0)} ms; ${r.error ? `error: ${r.error}` : 'no error'}`,
      );
    }
    // The part before any limit can apply: the storage's fetch of every distinct stack.
    const began = performance.now();
    const fetched = await oap.storage.profilingData.queryProfilingStacks(variables.ids, variables.ranges, 'COUNT');
    console.log(`storage fetch alone: ${fetched.length} stacks in ${(performance.now() - began).toFixed(0)} ms`);
    console.log(`RSS after: ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  } finally {
    agent.close();
    await (dataDir ? oap.stop() : oap.cleanup());
  }
};

void main();
