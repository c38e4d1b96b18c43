/**
 * NETWORK tasks over real sockets: created and kept alive through GraphQL as the stock UI sends
 * them, listed as its Network Profiling tab lists them, and delivered to a rover polling gRPC.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient, graphql, graphqlOk, hostProcess } from '@swlite/testkit';
import { startTestOap, type TestOap } from './testing/start';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const SERVICE_ID = `${b64('net-svc')}.1`;
const INSTANCE_ID = `${SERVICE_ID}_${b64('net-inst')}`;

// The UI's documents (booster-ui fragments/ebpf.ts).
const CREATE = `mutation createNetworkProfiling($request: EBPFProfilingNetworkTaskRequest!) {
  createEBPFNetworkProfiling(request: $request) { status errorReason id } }`;
const KEEP = `mutation keepNetworkProfiling($taskId: ID!) { keepEBPFNetworkProfiling(taskId: $taskId) { status errorReason } }`;
const TASKS = `query queryEBPFProfilingTasks($serviceId: ID, $serviceInstanceId: ID, $targets: [EBPFProfilingTargetType!], $triggerType: EBPFProfilingTriggerType) {
  queryEBPFProfilingTasks(serviceId: $serviceId, serviceInstanceId: $serviceInstanceId, targets: $targets, triggerType: $triggerType) {
    taskId serviceName serviceId serviceInstanceId serviceInstanceName processLabels processName processId
    taskStartTime triggerType fixedTriggerDuration targetType createTime
  } }`;

const rule = (over: Record<string, unknown> = {}) => ({
  when4xx: false,
  when5xx: true,
  settings: { requireCompleteRequest: true, requireCompleteResponse: true },
  ...over,
});

const argsOf = (command: { args: Array<{ key: string; value: string }> }) =>
  Object.fromEntries(command.args.map((a) => [a.key, a.value]));

describe('NETWORK profiling tasks over GraphQL and gRPC', () => {
  let oap: TestOap;
  let agent: AgentClient;
  let processIds: string[];
  let taskId: string;

  before(async () => {
    oap = await startTestOap();
    agent = new AgentClient(oap.grpcAddress, 'rover-net');
    const res = await agent.reportProcesses([
      hostProcess('client', { service: 'net-svc', instance: 'net-inst', layer: 'K8S_SERVICE', pid: 100 }),
      hostProcess('server', { service: 'net-svc', instance: 'net-inst', layer: 'K8S_SERVICE', pid: 101 }),
      hostProcess('other', { service: 'net-svc', instance: 'other-inst', layer: 'K8S_SERVICE', pid: 102 }),
    ]);
    processIds = res.processes.slice(0, 2).map((p) => p.processId);
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
  });

  const create = async (request: Record<string, unknown>) =>
    (await graphqlOk(oap.graphqlUrl, CREATE, { request })).createEBPFNetworkProfiling as {
      status: boolean;
      errorReason: string | null;
      id: string | null;
    };

  it('refuses requests with the OAP texts', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ instanceId: '' }, 'instance could not be empty'],
      [{ instanceId: `${SERVICE_ID}_${b64('nobody')}` }, "The instance doesn't have processes."],
      [{ instanceId: INSTANCE_ID, samplings: [rule(), rule()] }, 'already contains the default sampling config'],
      [
        { instanceId: INSTANCE_ID, samplings: [rule({ uriRegex: '/a' }), rule({ uriRegex: '/a' })] },
        'already contains the "/a" sampling config',
      ],
      [
        { instanceId: INSTANCE_ID, samplings: [rule({ minDuration: -1 })] },
        'the min duration must bigger or equals zero',
      ],
      [
        {
          instanceId: INSTANCE_ID,
          samplings: [rule({ settings: { requireCompleteRequest: false, requireCompleteResponse: false } })],
        },
        'please collect at least one of request or response',
      ],
      [
        {
          instanceId: INSTANCE_ID,
          samplings: [
            rule({ settings: { requireCompleteRequest: true, requireCompleteResponse: true, maxRequestSize: 0 } }),
          ],
        },
        'the max request size must bigger than zero',
      ],
      [
        {
          instanceId: INSTANCE_ID,
          samplings: [
            rule({ settings: { requireCompleteRequest: true, requireCompleteResponse: true, maxResponseSize: -5 } }),
          ],
        },
        'the max response size must bigger than zero',
      ],
    ];
    for (const [request, reason] of cases) {
      assert.deepEqual(await create(request), { status: false, errorReason: reason, id: null }, reason);
    }
    // a null settings object never passes the schema (settings is non-null): GraphQL refuses it
    const res = await graphql(oap.graphqlUrl, CREATE, {
      request: { instanceId: INSTANCE_ID, samplings: [rule({ settings: null })] },
    });
    assert.ok(res.errors && res.errors.length > 0);
  });

  it('creates a 600 s FIXED_TIME task for the instance, listed as the tab lists it', async () => {
    const created = await create({
      instanceId: INSTANCE_ID,
      samplings: [
        rule({ minDuration: 1000 }),
        rule({
          uriRegex: '/api/.*',
          when4xx: true,
          when5xx: false,
          settings: {
            requireCompleteRequest: false,
            maxRequestSize: 10,
            requireCompleteResponse: true,
            maxResponseSize: 2048,
          },
        }),
      ],
    });
    assert.equal(created.status, true);
    assert.equal(created.errorReason, null);
    assert.match(created.id!, /^[0-9a-f]{64}$/);
    taskId = created.id!;
    const tasks = (
      await graphqlOk(oap.graphqlUrl, TASKS, {
        serviceId: SERVICE_ID,
        serviceInstanceId: INSTANCE_ID,
        targets: ['NETWORK'],
        triggerType: 'FIXED_TIME',
      })
    ).queryEBPFProfilingTasks as Array<Record<string, unknown>>;
    assert.equal(tasks.length, 1);
    assert.deepEqual(
      { ...tasks[0], taskStartTime: 0, createTime: 0 },
      {
        taskId,
        serviceName: 'net-svc',
        serviceId: SERVICE_ID,
        serviceInstanceId: INSTANCE_ID,
        serviceInstanceName: 'net-inst',
        processLabels: [],
        processName: null,
        processId: null,
        taskStartTime: 0,
        triggerType: 'FIXED_TIME',
        fixedTriggerDuration: 600,
        targetType: 'NETWORK',
        createTime: 0,
      },
    );
  });

  it('delivers one command with every process of the instance and the real When4xx', async () => {
    const { commands } = await agent.queryTasks(0);
    assert.equal(commands.length, 1);
    const args = argsOf(commands[0]!);
    assert.equal(commands[0]!.command, 'EBPFProfilingTaskQuery');
    assert.equal(args.TaskId, taskId);
    assert.deepEqual(args.ProcessId!.split(',').sort(), [...processIds].sort());
    assert.equal(args.TargetType, 'NETWORK');
    assert.equal(args.TriggerType, 'FIXED_TIME');
    assert.equal(args.FixedTriggerDuration, '600');
    assert.deepEqual(JSON.parse(args.ExtensionConfigJSON!), {
      NetworkSamplings: [
        {
          MinDuration: 1000,
          When4xx: false,
          When5xx: true,
          Settings: { RequireCompleteRequest: true, RequireCompleteResponse: true },
        },
        {
          URIRegex: '/api/.*',
          When4xx: true,
          When5xx: false,
          Settings: {
            RequireCompleteRequest: false,
            MaxRequestSize: 10,
            RequireCompleteResponse: true,
            MaxResponseSize: 2048,
          },
        },
      ],
    });
    // polling with that update time gets nothing new
    assert.equal((await agent.queryTasks(Number(args.TaskUpdateTime))).commands.length, 0);
  });

  it('keeps the task: a no-op above a minute left, 600 s more with the sampling rules in the last minute', async () => {
    assert.deepEqual((await graphqlOk(oap.graphqlUrl, KEEP, { taskId })).keepEBPFNetworkProfiling, {
      status: true,
      errorReason: null,
    });
    assert.equal((await oap.storage.tasks.getTaskRecords(taskId)).length, 1);
    const { commands } = await agent.queryTasks(0);
    const updateTime = Number(argsOf(commands[0]!).TaskUpdateTime);

    // move the task 550 s into the past: 50 s left
    const [row] = await oap.storage.tasks.getTaskRecords(taskId);
    await oap.storage.tasks.saveTask({ ...row!, startTime: row!.startTime - 550_000 });
    assert.deepEqual((await graphqlOk(oap.graphqlUrl, KEEP, { taskId })).keepEBPFNetworkProfiling, {
      status: true,
      errorReason: null,
    });
    const tasks = (await graphqlOk(oap.graphqlUrl, TASKS, { serviceInstanceId: INSTANCE_ID, targets: ['NETWORK'] }))
      .queryEBPFProfilingTasks as Array<{ fixedTriggerDuration: number }>;
    assert.deepEqual(
      tasks.map((t) => t.fixedTriggerDuration),
      [1200],
    );

    // the rover polling since its last update gets the longer task, still with its rules
    const next = await agent.queryTasks(updateTime);
    assert.equal(next.commands.length, 1);
    const args = argsOf(next.commands[0]!);
    assert.equal(args.FixedTriggerDuration, '1200');
    assert.equal(JSON.parse(args.ExtensionConfigJSON!).NetworkSamplings.length, 2);
  });

  it('refuses to keep unknown, finished and non-network tasks', async () => {
    const keep = async (id: string) => (await graphqlOk(oap.graphqlUrl, KEEP, { taskId: id })).keepEBPFNetworkProfiling;
    assert.deepEqual(await keep('nope'), { status: false, errorReason: 'profiling task not exists' });
    const rows = await oap.storage.tasks.getTaskRecords(taskId);
    for (const r of rows) await oap.storage.tasks.saveTask({ ...r, startTime: r.startTime - 3_600_000 });
    assert.deepEqual(await keep(taskId), { status: false, errorReason: 'profiling task has been finished' });
    await oap.storage.tasks.saveTask({ ...rows[0]!, taskId: 'cpu-task', targetType: 'ON_CPU' });
    assert.deepEqual(await keep('cpu-task'), { status: false, errorReason: 'current task is not a "NETWORK" task' });
  });
});
