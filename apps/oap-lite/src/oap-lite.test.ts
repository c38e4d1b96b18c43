/**
 * oap-lite over real sockets: a gRPC client plays the rover, GraphQL over HTTP reads back what
 * the UI would see. Covers the whole eBPF profiling flow, restart durability and bad input.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AgentClient, hostProcess, onCpuData, graphql, graphqlOk, minuteDuration } from '@swlite/testkit';
import { startTestOap, type TestOap } from './testing/start';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const SERVICE_ID = `${b64('demo-service')}.1`;
const INSTANCE_ID = `${SERVICE_ID}_${b64('host-1')}`;

const onCpu = onCpuData;

const TASKS_QUERY = `query ($serviceId: ID, $targets: [EBPFProfilingTargetType!], $triggerType: EBPFProfilingTriggerType) {
  queryEBPFProfilingTasks(serviceId: $serviceId, targets: $targets, triggerType: $triggerType) {
    taskId serviceId serviceName processLabels taskStartTime triggerType fixedTriggerDuration targetType createTime
  }
}`;
const ANALYSIS = `query ($ids: [ID!]!, $ranges: [EBPFProfilingAnalyzeTimeRange!]!, $agg: EBPFProfilingAnalyzeAggregateType) {
  analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $ranges, aggregateType: $agg) {
    tip trees { elements { id parentId symbol stackType dumpCount } }
  }
}`;

describe('oap-lite over gRPC and GraphQL', () => {
  let oap: TestOap;
  let agent: AgentClient;
  let nginxId: string;
  let taskId: string;
  const t0 = Date.now();

  before(async () => {
    oap = await startTestOap();
    agent = new AgentClient(oap.grpcAddress, 'rover-1');
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
  });

  it('assigns process IDs the way the Java OAP does', async () => {
    const res = await agent.reportProcesses([
      hostProcess('nginx', { labels: ['proxy'], pid: 10 }),
      hostProcess('worker', { pid: 11 }),
      hostProcess('no-bpf', { pid: 12, profilable: false }),
    ]);
    assert.equal(res.processes.length, 3);
    nginxId = res.processes[0]!.processId;
    assert.equal(nginxId, sha256(`nginx_${INSTANCE_ID}`));
    assert.equal(res.processes[0]!.hostProcess?.pid, 10);
    assert.equal(res.processes[0]!.hostProcess?.entityMetadata?.processName, 'nginx');
  });

  it('lists layers, services, instances and processes as the UI asks for them', async () => {
    const duration = minuteDuration(t0 - 60_000, Date.now() + 60_000);
    const data = await graphqlOk(
      oap.graphqlUrl,
      `query ($duration: Duration!, $sid: ID!, $iid: ID!) {
        listLayers
        listServices(layer: "OS_LINUX") { id name group shortName layers normal }
        findService(serviceName: "demo-service") { id }
        listInstances(duration: $duration, serviceId: $sid) { id name language instanceUUID attributes { name value } }
        listProcesses(duration: $duration, instanceId: $iid) { id name serviceId serviceName instanceId instanceName agentId detectType labels attributes { name value } }
        estimateProcessScale(serviceId: $sid, labels: ["proxy"])
      }`,
      { duration, sid: SERVICE_ID, iid: INSTANCE_ID },
    );
    // Every layer of the OAP 10.1.0, as the Java OAP lists them (with data or not).
    assert.equal(data.listLayers.length, 39);
    assert.ok(data.listLayers.includes('OS_LINUX'));
    assert.deepEqual(data.listServices, [
      {
        id: SERVICE_ID,
        name: 'demo-service',
        group: '',
        shortName: 'demo-service',
        layers: ['OS_LINUX'],
        normal: true,
      },
    ]);
    assert.equal(data.findService.id, SERVICE_ID);
    assert.equal(data.listInstances[0].id, INSTANCE_ID);
    const nginx = data.listProcesses.find((p: { name: string }) => p.name === 'nginx');
    assert.equal(nginx.id, nginxId);
    assert.equal(nginx.agentId, 'rover-1');
    assert.equal(nginx.detectType, 'VM');
    assert.deepEqual(nginx.labels, ['proxy']);
    assert.ok(nginx.attributes.some((a: { name: string; value: string }) => a.name === 'pid' && a.value === '10'));
    assert.equal(data.estimateProcessScale, 1);
    const one = await graphqlOk(oap.graphqlUrl, `query ($id: ID!) { getProcess(processId: $id) { name } }`, {
      id: nginxId,
    });
    assert.equal(one.getProcess.name, 'nginx');
  });

  it('creates a task with the OAP logical ID and validates like the OAP', async () => {
    const prep = await graphqlOk(
      oap.graphqlUrl,
      `query ($s: ID!) { queryPrepareCreateEBPFProfilingTaskData(serviceId: $s) { couldProfiling processLabels } }`,
      { s: SERVICE_ID },
    );
    assert.deepEqual(prep.queryPrepareCreateEBPFProfilingTaskData, { couldProfiling: true, processLabels: ['proxy'] });

    const create = `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) {
      createEBPFProfilingFixedTimeTask(request: $r) { status errorReason id }
    }`;
    const tooShort = await graphqlOk(oap.graphqlUrl, create, {
      r: { serviceId: SERVICE_ID, processLabels: [], startTime: -1, duration: 5, targetType: 'ON_CPU' },
    });
    assert.equal(tooShort.createEBPFProfilingFixedTimeTask.status, false);
    assert.match(tooShort.createEBPFProfilingFixedTimeTask.errorReason, /greater than or equals 60s/);
    const badLabel = await graphqlOk(oap.graphqlUrl, create, {
      r: { serviceId: SERVICE_ID, processLabels: ['nope'], startTime: -1, duration: 60, targetType: 'ON_CPU' },
    });
    assert.match(badLabel.createEBPFProfilingFixedTimeTask.errorReason, /doesn't have processes with label\(s\) nope/);

    const startTime = Date.now();
    const ok = await graphqlOk(oap.graphqlUrl, create, {
      r: { serviceId: SERVICE_ID, processLabels: ['proxy'], startTime, duration: 60, targetType: 'ON_CPU' },
    });
    assert.equal(ok.createEBPFProfilingFixedTimeTask.status, true);
    taskId = ok.createEBPFProfilingFixedTimeTask.id;
    const le = Buffer.alloc(8);
    le.writeBigInt64LE(BigInt(startTime));
    const expected = createHash('sha256').update(SERVICE_ID).update('["proxy"]').update(le).digest('hex');
    assert.equal(taskId, expected);

    const tasks = await graphqlOk(oap.graphqlUrl, TASKS_QUERY, { serviceId: SERVICE_ID, targets: ['ON_CPU'] });
    assert.equal(tasks.queryEBPFProfilingTasks.length, 1);
    assert.deepEqual(tasks.queryEBPFProfilingTasks[0].processLabels, ['proxy']);
    assert.equal(tasks.queryEBPFProfilingTasks[0].serviceName, 'demo-service');
    assert.equal(tasks.queryEBPFProfilingTasks[0].fixedTriggerDuration, 60);
  });

  it('delivers the task to the rover as an EBPFProfilingTaskQuery command, only for labelled processes', async () => {
    const res = await agent.queryTasks(0);
    assert.equal(res.commands.length, 1);
    const command = res.commands[0]!;
    assert.equal(command.command, 'EBPFProfilingTaskQuery');
    const args = Object.fromEntries(command.args.map((a) => [a.key, a.value]));
    assert.deepEqual(Object.keys(args), [
      'SerialNumber',
      'TaskId',
      'ProcessId',
      'TaskUpdateTime',
      'TriggerType',
      'TargetType',
      'TaskStartTime',
      'ExtensionConfigJSON',
      'FixedTriggerDuration',
    ]);
    assert.equal(args.TaskId, taskId);
    assert.equal(args.ProcessId, nginxId);
    assert.equal(args.TriggerType, 'FIXED_TIME');
    assert.equal(args.TargetType, 'ON_CPU');
    assert.equal(args.FixedTriggerDuration, '60');
    assert.equal(args.ExtensionConfigJSON, 'null');
    // Nothing newer than the task's update time: nothing delivered again.
    assert.equal((await agent.queryTasks(Number(args.TaskUpdateTime))).commands.length, 0);
    // Another rover with no processes gets nothing.
    const other = new AgentClient(oap.grpcAddress, 'rover-2');
    assert.equal((await other.queryTasks(0)).commands.length, 0);
    other.close();
  });

  it('stores streamed stacks as schedules and merges them into the OAP trees', async () => {
    const start = Date.now() - 10_000;
    const task = { taskId, processId: nginxId, start, now: start + 5_000 };
    await agent.collect([
      onCpu(
        task,
        ['ngx_process_events', 'ngx_worker_process_cycle', 'main'],
        ['do_syscall_64', 'entry_SYSCALL_64'],
        30,
      ),
      onCpu(null, ['ngx_http_log_handler', 'ngx_worker_process_cycle', 'main'], [], 10),
    ]);
    await agent.collect([
      onCpu(
        { ...task, now: start + 10_000 },
        ['ngx_process_events', 'ngx_worker_process_cycle', 'main'],
        ['do_syscall_64', 'entry_SYSCALL_64'],
        5,
      ),
    ]);
    const schedules = await graphqlOk(
      oap.graphqlUrl,
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId taskId startTime endTime process { id name labels } } }`,
      { t: taskId },
    );
    const [schedule] = schedules.queryEBPFProfilingSchedules;
    assert.equal(schedules.queryEBPFProfilingSchedules.length, 1);
    assert.equal(schedule.scheduleId, sha256(`${taskId}_${nginxId}_${start}`));
    assert.equal(schedule.startTime, start);
    assert.equal(schedule.endTime, start + 10_000);
    assert.equal(schedule.process.name, 'nginx');

    const result = await graphqlOk(oap.graphqlUrl, ANALYSIS, {
      ids: [schedule.scheduleId],
      ranges: [{ start, end: start + 20_000 }],
      agg: 'COUNT',
    });
    const trees = result.analysisEBPFProfilingResult.trees;
    assert.equal(trees.length, 1);
    const elements = trees[0].elements;
    const byId = new Map(elements.map((e: { id: string }) => [e.id, e]));
    const path = (symbol: string) => {
      const names: string[] = [];
      let e: any = elements.find((x: { symbol: string }) => x.symbol === symbol);
      while (e) {
        names.unshift(e.symbol);
        e = byId.get(e.parentId);
      }
      return names;
    };
    assert.deepEqual(elements[0], { id: '1', parentId: '0', symbol: 'main', stackType: 'USER_SPACE', dumpCount: 45 });
    assert.deepEqual(path('do_syscall_64'), [
      'main',
      'ngx_worker_process_cycle',
      'ngx_process_events',
      'entry_SYSCALL_64',
      'do_syscall_64',
    ]);
    const kernelLeaf = elements.find((e: { symbol: string }) => e.symbol === 'do_syscall_64');
    assert.equal(kernelLeaf.stackType, 'KERNEL_SPACE');
    assert.equal(kernelLeaf.dumpCount, 35);
    assert.equal(elements.find((e: { symbol: string }) => e.symbol === 'ngx_http_log_handler').dumpCount, 10);

    // Two overlapping ranges count each record once, as the OAP's distinct() does.
    const overlapped = await graphqlOk(oap.graphqlUrl, ANALYSIS, {
      ids: [schedule.scheduleId],
      ranges: [
        { start, end: start + 20_000 },
        { start: start + 1, end: start + 20_000 },
      ],
    });
    assert.equal(overlapped.analysisEBPFProfilingResult.trees[0].elements[0].dumpCount, 45);
    // A range that only covers the second upload.
    const late = await graphqlOk(oap.graphqlUrl, ANALYSIS, {
      ids: [schedule.scheduleId],
      ranges: [{ start: start + 9_000, end: start + 20_000 }],
    });
    assert.equal(late.analysisEBPFProfilingResult.trees[0].elements[0].dumpCount, 5);
  });

  it('aggregates off-CPU stacks by switch count or blocked duration', async () => {
    const create = await graphqlOk(
      oap.graphqlUrl,
      `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { status errorReason id } }`,
      {
        r: { serviceId: SERVICE_ID, processLabels: [], startTime: Date.now() + 1, duration: 60, targetType: 'OFF_CPU' },
      },
    );
    const offTask = create.createEBPFProfilingFixedTimeTask.id as string;
    const start = Date.now();
    await agent.collect([
      {
        task: { taskId: offTask, processId: nginxId, profilingStartTime: start, currentTime: start + 1000 },
        offCPU: {
          stacks: [
            { stackType: 'PROCESS_USER_SPACE', stackId: 1, stackSymbols: ['write', 'ngx_write_fd', 'main'] },
            { stackType: 'PROCESS_KERNEL_SPACE', stackId: 2, stackSymbols: ['schedule', 'vfs_write'] },
          ],
          switchCount: 7,
          duration: 3_000_000,
        },
      },
    ]);
    const [schedule] = (
      await graphqlOk(oap.graphqlUrl, `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId } }`, {
        t: offTask,
      })
    ).queryEBPFProfilingSchedules;
    const range = [{ start, end: start + 5000 }];
    const count = await graphqlOk(oap.graphqlUrl, ANALYSIS, {
      ids: [schedule.scheduleId],
      ranges: range,
      agg: 'COUNT',
    });
    const duration = await graphqlOk(oap.graphqlUrl, ANALYSIS, {
      ids: [schedule.scheduleId],
      ranges: range,
      agg: 'DURATION',
    });
    const leaf = (r: any) => r.analysisEBPFProfilingResult.trees[0].elements.find((e: any) => e.symbol === 'schedule');
    assert.equal(leaf(count).dumpCount, 7);
    assert.equal(leaf(duration).dumpCount, 3_000_000);
  });

  it('refuses bad uploads with a clear status and stores nothing of them', async () => {
    const start = Date.now();
    // Unknown task: skipped (and counted), not an error; nothing stored for it.
    await agent.collect([onCpu({ taskId: 'no-such-task', processId: nginxId, start, now: start }, ['a'], [], 1)]);
    const unknown = await graphqlOk(oap.graphqlUrl, `query { queryEBPFProfilingSchedules(taskId: "no-such-task") { scheduleId } }`);
    assert.deepEqual(unknown.queryEBPFProfilingSchedules, []);
    // No task metadata on the first message.
    await assert.rejects(
      agent.collect([onCpu(null, ['a'], [], 1)]),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /task metadata/.test(err.details),
    );
    // Profiling oneof not set.
    await assert.rejects(
      agent.collect([{ task: { taskId, processId: nginxId, profilingStartTime: start, currentTime: start } }]),
      (err: grpc.ServiceError) =>
        err.code === grpc.status.INVALID_ARGUMENT && /profiling data not set/.test(err.details),
    );
    // A stream broken half-way leaves nothing behind.
    const brokenStart = start + 123;
    await assert.rejects(
      agent.collect(
        [
          onCpu({ taskId, processId: nginxId, start: brokenStart, now: brokenStart }, ['half'], [], 1),
          onCpu(null, ['half2'], [], 1),
        ],
        { breakAfter: 1 },
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const schedules = await graphqlOk(
      oap.graphqlUrl,
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { startTime } }`,
      {
        t: taskId,
      },
    );
    assert.ok(schedules.queryEBPFProfilingSchedules.every((s: { startTime: number }) => s.startTime !== brokenStart));
  });

  it('answers malformed and oversized gRPC messages with a status and keeps serving', async () => {
    const raw = new grpc.Client(oap.grpcAddress, grpc.credentials.createInsecure());
    const garbage = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(
        '/skywalking.v3.EBPFProcessService/reportProcesses',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        (err) => resolve(err),
      ),
    );
    assert.equal(garbage?.code, grpc.status.INTERNAL);
    const huge = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(
        '/skywalking.v3.EBPFProcessService/reportProcesses',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(oap.config.grpc.maxMessageSize + 10),
        (err) => resolve(err),
      ),
    );
    assert.equal(huge?.code, grpc.status.RESOURCE_EXHAUSTED);
    raw.close();
    // Still serving.
    assert.equal((await agent.reportProcesses([hostProcess('nginx', { labels: ['proxy'] })])).processes.length, 1);
  });

  it('gives clear GraphQL errors for bad variables, durations and abusive queries', async () => {
    const badEnum = await graphql(oap.graphqlUrl, TASKS_QUERY, { targets: ['SIDEWAYS'] });
    assert.match(badEnum.errors?.[0]?.message ?? '', /SIDEWAYS/);
    const badDuration = await graphql(
      oap.graphqlUrl,
      `
        query ($d: Duration!) {
          listInstances(duration: $d, serviceId: "x") {
            id
          }
        }
      `,
      { d: { start: 'yesterday', end: '2026-01-01 1000', step: 'MINUTE' } },
    );
    assert.match(badDuration.errors?.[0]?.message ?? '', /does not match the MINUTE format/);
    const badLong = await graphql(oap.graphqlUrl, ANALYSIS, { ids: ['x'], ranges: [{ start: 'soon', end: 1 }] });
    assert.match(badLong.errors?.[0]?.message ?? '', /invalid value "soon".*Long|Long cannot represent/);
    const deep = `{ ${'queryEBPFProfilingSchedules(taskId: "x") { process { '.repeat(1)}${'attributes { name '.repeat(1)}name } } } }`;
    assert.equal((await graphql(oap.graphqlUrl, deep)).errors, undefined);
    const tooDeep = `{ a: listServices { ${'id '.repeat(2)} } ${Array.from({ length: 4000 }, (_, i) => `f${i}: version`).join(' ')} }`;
    assert.match((await graphql(oap.graphqlUrl, tooDeep)).errors?.[0]?.message ?? '', /[Tt]oken/);
    const nested = `query { getMenuItems { ${'subItems { '.repeat(14)}title${' }'.repeat(14)} } }`;
    assert.match((await graphql(oap.graphqlUrl, nested)).errors?.[0]?.message ?? '', /[Dd]epth/);
    const unknownProcess = await graphqlOk(oap.graphqlUrl, `{ getProcess(processId: "nope") { id } }`);
    assert.equal(unknownProcess.getProcess, null);
  });

  it('serves the REST paths the stock UI calls, health and metrics', async () => {
    const base = oap.graphqlUrl.replace('/graphql', '');
    const nodes = (await (await fetch(`${base}/status/cluster/nodes`)).json()) as { nodes: Array<{ port: number }> };
    assert.equal(nodes.nodes[0]?.port, oap.config.grpc.port);
    const ttl = (await (await fetch(`${base}/status/config/ttl`)).json()) as { records: { normal: number } };
    assert.equal(ttl.records.normal, 3);
    const dump = await (await fetch(`${base}/debugging/config/dump`)).text();
    assert.match(dump, /^storage\.kind=sqlite$/m);
    assert.equal((await fetch(`${base}/healthcheck`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /oap_lite_profiling_stacks_ingested_total \d+/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  it('keeps everything across a restart on the same data directory', async () => {
    const dataDir = oap.dataDir;
    agent.close();
    await oap.stop();
    oap = await startTestOap({}, dataDir);
    agent = new AgentClient(oap.grpcAddress, 'rover-1');
    const tasks = await graphqlOk(oap.graphqlUrl, TASKS_QUERY, { serviceId: SERVICE_ID, targets: ['ON_CPU'] });
    assert.equal(tasks.queryEBPFProfilingTasks[0].taskId, taskId);
    const schedules = await graphqlOk(
      oap.graphqlUrl,
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId startTime } }`,
      {
        t: taskId,
      },
    );
    const s = schedules.queryEBPFProfilingSchedules[0];
    const result = await graphqlOk(oap.graphqlUrl, ANALYSIS, {
      ids: [s.scheduleId],
      ranges: [{ start: s.startTime, end: Date.now() }],
    });
    assert.equal(result.analysisEBPFProfilingResult.trees[0].elements[0].dumpCount, 45);
  });
});

describe('oap-lite authentication', () => {
  it('refuses agents without the configured token, as the OAP interceptor does', async () => {
    const oap = await startTestOap({ SW_AUTHENTICATION: 's3cret' });
    try {
      const anonymous = new AgentClient(oap.grpcAddress, 'r');
      await assert.rejects(
        anonymous.queryTasks(0),
        (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED,
      );
      anonymous.close();
      const md = new grpc.Metadata();
      md.set('Authentication', 's3cret');
      const trusted = new AgentClient(oap.grpcAddress, 'r', md);
      assert.deepEqual((await trusted.queryTasks(0)).commands, []);
      trusted.close();
    } finally {
      await oap.cleanup();
    }
  });
});
