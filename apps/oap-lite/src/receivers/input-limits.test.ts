/**
 * Agent input over real gRPC: a stale task costs only its own messages, and every budget refuses
 * with INVALID_ARGUMENT naming its variable and quoting little of the input.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient, hostProcess, onCpuData, roverMeterCollection, type UploadTask, graphqlOk } from '@swlite/testkit';
import { createTaskWithProcess, scheduleIdsOf } from '../testing/profiling-fixture';
import { startTestOap, type TestOap } from '../testing/start';

const invalid =
  (pattern: RegExp, maxLength = 400) =>
  (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
    assert.match(err.details, pattern);
    assert.ok(err.details.length < maxLength, `the error quotes too much: ${err.details.length} characters`);
    return true;
  };

describe('agent input budgets', () => {
  let oap: TestOap;
  let agent: AgentClient;
  let task: UploadTask;

  before(async () => {
    oap = await startTestOap({
      SW_EBPF_TASK_MIN_DURATION: '1',
      SW_RECEIVER_MAX_PROCESSES_PER_REPORT: '10',
      SW_RECEIVER_MAX_STACK_SYMBOLS: '100',
      SW_RECEIVER_MAX_SYMBOL_LENGTH: '64',
    });
    agent = new AgentClient(oap.grpcAddress);
    task = await createTaskWithProcess(oap, agent);
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
  });

  it('skips and counts the messages of an unknown task, and stores the other tasks of the stream', async () => {
    const stale = { ...task, taskId: 'finished-long-ago' };
    await agent.collect([
      onCpuData(task, ['kept_1', 'main'], [], 3),
      onCpuData(stale, ['lost_1', 'main'], [], 1),
      onCpuData(null, ['lost_2', 'main'], [], 1),
      // (another depth: test stacks get their depth as stack id, and the id keys a record)
      onCpuData(task, ['kept_2', 'mid', 'main'], [], 4),
    ]);
    const ids = await scheduleIdsOf(oap, task.taskId);
    assert.equal(ids.length, 1);
    const analysis = await graphqlOk(
      oap.graphqlUrl,
      `query ($ids: [ID!]!, $r: [EBPFProfilingAnalyzeTimeRange!]!) {
        analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $r, aggregateType: COUNT) { trees { elements { symbol dumpCount } } } }`,
      { ids, r: [{ start: task.start, end: task.now }] },
    );
    const symbols = analysis.analysisEBPFProfilingResult.trees[0].elements.map((e: { symbol: string }) => e.symbol);
    assert.deepEqual(symbols.sort(), ['kept_1', 'kept_2', 'main', 'mid']);
    const metrics = await (await fetch(`http://127.0.0.1:${oap.httpPort}/metrics`)).text();
    assert.match(metrics, /oap_lite_profiling_messages_skipped_total\{reason="unknown_task"\} 2/);
  });

  it('refuses task times outside the sane window (2^53 included)', async () => {
    for (const profilingStartTime of [2 ** 53, Date.now() + 10 * 86_400_000, 5]) {
      await assert.rejects(
        agent.collect([onCpuData({ ...task, start: profilingStartTime }, ['a'], [], 1)]),
        invalid(
          /task\.profilingStartTime=.* is not a time between 2000-01-01 and .*SW_RECEIVER_MAX_CLOCK_AHEAD_SECONDS=86400/,
        ),
      );
    }
    await assert.rejects(
      agent.collect([onCpuData({ ...task, now: -1 }, ['a'], [], 1)]),
      invalid(/task\.currentTime="-1"/),
    );
  });

  it('refuses a stack over SW_RECEIVER_MAX_STACK_SYMBOLS and cuts long symbols', async () => {
    const deep = Array.from({ length: 101 }, (_, i) => `f${i}`);
    await assert.rejects(
      agent.collect([onCpuData(task, deep, [], 1)]),
      invalid(/the user stack has 101 symbols, more than SW_RECEIVER_MAX_STACK_SYMBOLS=100/),
    );
    const later = { ...task, now: task.now + 1000 };
    await agent.collect([onCpuData(later, ['x'.repeat(10_000), 'main'], [], 1)]);
    const ids = await scheduleIdsOf(oap, task.taskId);
    const analysis = await graphqlOk(
      oap.graphqlUrl,
      `query ($ids: [ID!]!, $r: [EBPFProfilingAnalyzeTimeRange!]!) {
        analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $r, aggregateType: COUNT) { trees { elements { symbol } } } }`,
      { ids, r: [{ start: later.now - 1, end: later.now }] },
    );
    const symbols = analysis.analysisEBPFProfilingResult.trees[0].elements.map((e: { symbol: string }) => e.symbol);
    assert.deepEqual(symbols, ['main', 'x'.repeat(64)]);
  });

  it('refuses a 1 MB service name with the limit, quoting 64 characters of it', async () => {
    await assert.rejects(
      agent.reportProcesses([hostProcess('p', { service: 's'.repeat(1 << 20) })]),
      invalid(
        /serviceName has 1048576 characters, more than SW_RECEIVER_MAX_STRING_LENGTH=1024: "s{64}"… \(1048576 characters\)/,
      ),
    );
  });

  it('cuts service and instance names to the OAP lengths (70) and echoes the report as sent', async () => {
    const service = 'svc-'.repeat(40);
    const answer = await agent.reportProcesses([hostProcess('p', { service, instance: 'i'.repeat(100) })]);
    assert.equal(answer.processes[0]!.hostProcess!.entityMetadata!.serviceName, service);
    const services = await graphqlOk(oap.graphqlUrl, `query { listServices(layer: "OS_LINUX") { name } }`);
    assert.ok(services.listServices.some((s: { name: string }) => s.name === service.slice(0, 70)));
  });

  it('refuses a report over SW_RECEIVER_MAX_PROCESSES_PER_REPORT', async () => {
    const many = Array.from({ length: 11 }, (_, i) => hostProcess(`p${i}`, { pid: 100 + i }));
    await assert.rejects(
      agent.reportProcesses(many),
      invalid(/the report has 11 processes, more than SW_RECEIVER_MAX_PROCESSES_PER_REPORT=10/),
    );
  });

  it('refuses a meter whose label is over SW_RECEIVER_MAX_STRING_LENGTH', async () => {
    const collection = roverMeterCollection([
      { process: 'p', http: [{ uri: `/${'u'.repeat(2000)}`, errorRate: 0.5 }] },
    ]);
    await assert.rejects(
      agent.sendMeters([collection]),
      invalid(/singleValue\.labels\[0\]\.value has 2001 characters, more than SW_RECEIVER_MAX_STRING_LENGTH=1024/),
    );
  });
});
