/**
 * Replays every GraphQL document the stock UI (booster-ui 10.2.0) can send — the 66 in
 * ../shared/conformance/ui-operations.json — against a running oap-lite over HTTP, with
 * variables like the UI's (MINUTE-step durations, IDs of data seeded through the gRPC agent
 * client), and requires an answer without GraphQL errors. The eBPF documents run in the order
 * the UI calls them and their answers are checked; so are the dashboard and menu documents.
 */
import type { EBPFProfilingData } from '@swlite/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient, hostProcess, graphql, minuteDuration } from '@swlite/testkit';
import { startTestOap, type TestOap } from './testing/start';
import { findUiOperations, loadUiDocuments, otherUiDocumentVariables } from '@swlite/testkit';

const operationsPath = findUiOperations();
if (!operationsPath && process.env.CI === 'true') {
  throw new Error('shared/conformance/ui-operations.json not found above apps/oap-lite; CI must have ../shared');
}
const skip = operationsPath ? false : 'shared/conformance/ui-operations.json not found (no ../shared checkout here)';
const documents = loadUiDocuments(operationsPath);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const HOST_SERVICE = 'demo-host';
const HOST_SERVICE_ID = `${b64(HOST_SERVICE)}.1`;
const HOST_INSTANCE_ID = `${HOST_SERVICE_ID}_${b64('host-1')}`;
const K8S_SERVICE_ID = `${b64('default::shop')}.1`;
const K8S_INSTANCE_ID = `${K8S_SERVICE_ID}_${b64('shop-7d9f-abcde')}`;

const k8sProcess = (layer: string, name: string, pid: number, labels: string[] = []) => ({
  k8sProcess: {
    entity: {
      layer,
      serviceName: 'default::shop',
      instanceName: 'shop-7d9f-abcde',
      processName: name,
      labels,
    },
    pid,
    properties: [
      { key: 'pid', value: String(pid) },
      { key: 'command_line', value: `/usr/local/bin/${name}` },
      { key: 'support_ebpf_profiling', value: 'true' },
    ],
  },
});

const dashboard = (name: string) =>
  JSON.stringify({
    name,
    layer: 'OS_LINUX',
    entity: 'Service',
    isRoot: false,
    isDefault: false,
    children: [{ x: 0, y: 0, w: 24, h: 48, i: '0', type: 'Ebpf' }],
  });

describe('every document of the stock UI against oap-lite', { skip }, () => {
  let oap: TestOap;
  let agent: AgentClient;
  const ids = {
    nginx: '',
    redis: '',
    envoy: '',
    onTask: '',
    offTask: '',
    schedule: '',
    template: '',
  };
  const t0 = Date.now() - 30 * 60_000;
  const duration = () => minuteDuration(t0, Date.now() + 60_000);
  const executed = new Set<string>();

  /** Runs one UI document by its name in ui-operations.json; fails on any GraphQL error. */
  const run = async (name: string, variables: Record<string, unknown> = {}): Promise<Record<string, any>> => {
    const doc = documents.get(name);
    assert.ok(doc, `ui-operations.json has no document named ${name}`);
    const res = await graphql(oap.graphqlUrl, doc, variables);
    assert.equal(res.errors, undefined, `${name}: ${JSON.stringify(res.errors)}`);
    assert.ok(res.data, `${name}: no data`);
    executed.add(name);
    return res.data;
  };

  before(async () => {
    oap = await startTestOap();
    agent = new AgentClient(oap.grpcAddress, 'rover-ui');
    const reported = await agent.reportProcesses([
      hostProcess('nginx', {
        service: HOST_SERVICE,
        instance: 'host-1',
        labels: ['web'],
        pid: 1010,
      }),
      hostProcess('redis-server', {
        service: HOST_SERVICE,
        instance: 'host-1',
        labels: ['cache'],
        pid: 1020,
      }),
      k8sProcess('K8S_SERVICE', 'java', 2010),
      k8sProcess('MESH', 'java', 2010),
      k8sProcess('MESH_DP', 'envoy', 2020, ['mesh-envoy']),
    ] as never);
    const processIds = reported.processes.map((p) => p.processId);
    ids.nginx = processIds[0] ?? '';
    ids.redis = processIds[1] ?? '';
    ids.envoy = processIds[4] ?? '';
    assert.ok(ids.nginx && ids.redis && ids.envoy);
  });
  after(async () => {
    agent?.close();
    await oap?.cleanup();
  });

  it('shows the menu with the reported layers active and the bundled dashboards', async () => {
    const menu = (await run('queryMenuItems')).getMenuItems as Array<Record<string, any>>;
    const leaves = menu.flatMap((m) => m.subItems as Array<Record<string, any>>);
    const active = Object.fromEntries(leaves.map((l) => [l.layer, l.activate]));
    assert.deepEqual(active, {
      OS_LINUX: true,
      K8S_SERVICE: true,
      MESH: true,
      MESH_DP: true,
    });
    assert.ok(menu.every((m) => m.activate && m.layer === ''));

    const templates = (await run('getTemplates')).getAllTemplates as Array<{
      id: string;
      configuration: string;
    }>;
    const configs = templates.map((t) => JSON.parse(t.configuration) as Record<string, any>);
    for (const layer of ['OS_LINUX', 'K8S_SERVICE', 'MESH', 'MESH_DP']) {
      const mine = configs.filter((c) => c.layer === layer);
      // The UI opens a layer on its root dashboard (entity All, isRoot) and lists services there.
      const root = mine.find((c) => c.isRoot && c.entity === 'All');
      assert.ok(root, `${layer} has a root dashboard`);
      assert.ok(JSON.stringify(root).includes('"ServiceList"'));
      const service = mine.find((c) => c.entity === 'Service' && c.name === root.children[1].graph.dashboardName);
      assert.ok(service, `${layer}: the service list links to a service dashboard`);
      const text = JSON.stringify(service);
      for (const widget of ['"InstanceList"', '"type":"Ebpf"', '"type":"ContinuousProfiling"'])
        assert.ok(text.includes(widget), `${layer}: ${widget}`);
      assert.ok(
        mine.some((c) => c.entity === 'ServiceInstance'),
        `${layer}: instance dashboard`,
      );
      assert.ok(
        mine.some((c) => c.entity === 'Process'),
        `${layer}: process dashboard`,
      );
    }
  });

  it('runs the app and selector documents as the UI does on a layer page', async () => {
    assert.match(String((await run('queryOAPVersion')).version), /\S/);
    assert.equal(typeof (await run('queryOAPTimeInfo')).getTimeInfo.timezone, 'string');
    await run('queryMetricsTTL');
    await run('queryRecordsTTL');
    // Every layer the OAP 10.1.0 has, with data or not (the UI's layer pages need theirs listed).
    const layers = (await run('queryLayers')).layers as string[];
    assert.equal(layers.length, 39);
    for (const layer of ['K8S_SERVICE', 'MESH', 'MESH_DP', 'OS_LINUX']) assert.ok(layers.includes(layer), layer);
    const services = (await run('queryServices', { layer: 'OS_LINUX' })).services;
    assert.deepEqual(
      services.map((s: { id: string }) => s.id),
      [HOST_SERVICE_ID],
    );
    assert.equal((await run('queryService', { serviceId: HOST_SERVICE_ID })).service.label, HOST_SERVICE);
    const pods = (
      await run('queryInstances', {
        serviceId: HOST_SERVICE_ID,
        duration: duration(),
      })
    ).pods;
    assert.deepEqual(
      pods.map((p: { id: string }) => p.id),
      [HOST_INSTANCE_ID],
    );
    assert.equal((await run('queryInstance', { instanceId: HOST_INSTANCE_ID })).instance.label, 'host-1');
    const processes = (
      await run('queryProcesses', {
        instanceId: HOST_INSTANCE_ID,
        duration: duration(),
      })
    ).processes;
    assert.deepEqual(processes.map((p: { label: string }) => p.label).sort(), ['nginx', 'redis-server']);
    assert.equal((await run('queryProcess', { processId: ids.nginx })).process.label, 'nginx');
    const k8s = (
      await run('queryProcesses', {
        instanceId: K8S_INSTANCE_ID,
        duration: duration(),
      })
    ).processes;
    assert.deepEqual(k8s.map((p: { label: string }) => p.label).sort(), ['envoy', 'java']);
    await run('queryEndpoints', {
      serviceId: HOST_SERVICE_ID,
      keyword: '',
      limit: 20,
      duration: duration(),
    });
    await run('queryEndpoint', {
      endpointId: `${HOST_SERVICE_ID}_${b64('/')}`,
    });
  });

  it('runs the eBPF documents in the order the UI calls them', async () => {
    // queryServices → queryInstances/queryProcesses ran above; the eBPF tab then asks:
    const prepare = (await run('getCreateTaskData', { serviceId: HOST_SERVICE_ID })).createTaskData;
    assert.deepEqual(prepare, {
      couldProfiling: true,
      processLabels: ['cache', 'web'],
    });
    const list = {
      serviceId: HOST_SERVICE_ID,
      targets: ['ON_CPU', 'OFF_CPU'],
      triggerType: 'FIXED_TIME',
    };
    assert.deepEqual((await run('getEBPFTasks', list)).queryEBPFTasks, []);

    // "Create Task" with "monitor now", 10 minutes, on-CPU, then off-CPU on the web label.
    const created = await run('saveEBPFTask', {
      request: {
        serviceId: HOST_SERVICE_ID,
        processLabels: [],
        startTime: Date.now(),
        duration: 600,
        targetType: 'ON_CPU',
      },
    });
    assert.equal(created.createTaskData.status, true, created.createTaskData.errorReason);
    ids.onTask = created.createTaskData.id;
    const off = await run('saveEBPFTask', {
      request: {
        serviceId: HOST_SERVICE_ID,
        processLabels: ['web'],
        startTime: Date.now(),
        duration: 600,
        targetType: 'OFF_CPU',
      },
    });
    assert.equal(off.createTaskData.status, true, off.createTaskData.errorReason);
    ids.offTask = off.createTaskData.id;

    // The rover picks both tasks up and streams stacks.
    const commands = (await agent.queryTasks(0)).commands;
    const args = commands.map((c) => Object.fromEntries(c.args.map((kv) => [kv.key, kv.value])));
    assert.deepEqual([...new Set(args.map((a) => a.TaskId))].sort(), [ids.onTask, ids.offTask].sort());
    const start = Date.now() - 10_000;
    const task = (taskId: string, processId: string, now: number) => ({
      taskId,
      processId,
      profilingStartTime: start,
      currentTime: now,
    });
    const onCpu = (user: string[], kernel: string[], dumpCount: number): EBPFProfilingData['onCPU'] => ({
      stacks: [
        {
          stackType: 'PROCESS_USER_SPACE',
          stackId: user.length,
          stackSymbols: user,
        },
        ...(kernel.length
          ? [
              {
                stackType: 'PROCESS_KERNEL_SPACE' as const,
                stackId: 100 + kernel.length,
                stackSymbols: kernel,
              },
            ]
          : []),
      ],
      dumpCount,
    });
    await agent.collect([
      {
        task: task(ids.onTask, ids.nginx, start + 5_000),
        onCPU: onCpu(
          ['ngx_epoll_process_events', 'ngx_worker_process_cycle', 'main'],
          ['ep_poll', 'do_syscall_64'],
          30,
        ),
      },
      {
        onCPU: onCpu(['ngx_http_parse_request_line', 'ngx_worker_process_cycle', 'main'], [], 10),
      },
    ]);
    await agent.collect([
      {
        task: task(ids.onTask, ids.redis, start + 5_000),
        onCPU: onCpu(['aeProcessEvents', 'aeMain', 'main'], ['ep_poll', 'do_syscall_64'], 20),
      },
    ]);
    await agent.collect([
      {
        task: task(ids.offTask, ids.nginx, start + 5_000),
        offCPU: {
          stacks: [
            {
              stackType: 'PROCESS_USER_SPACE',
              stackId: 1,
              stackSymbols: ['__libc_write', 'ngx_write_fd', 'main'],
            },
            {
              stackType: 'PROCESS_KERNEL_SPACE',
              stackId: 2,
              stackSymbols: ['schedule', 'vfs_write'],
            },
          ],
          switchCount: 7,
          duration: 3_000_000,
        },
      },
      {
        offCPU: {
          stacks: [
            {
              stackType: 'PROCESS_USER_SPACE',
              stackId: 3,
              stackSymbols: ['epoll_wait', 'ngx_epoll_process_events', 'main'],
            },
          ],
          switchCount: 30,
          duration: 90_000_000,
        },
      },
    ]);

    // The task list, then a click on a task: schedules, then the analysis of all of them.
    const tasks = (await run('getEBPFTasks', list)).queryEBPFTasks as Array<Record<string, any>>;
    assert.deepEqual(tasks.map((t) => t.taskId).sort(), [ids.onTask, ids.offTask].sort());
    assert.ok(
      tasks.every(
        (t) => t.serviceName === HOST_SERVICE && t.triggerType === 'FIXED_TIME' && t.fixedTriggerDuration === 600,
      ),
    );
    const schedules = (await run('getEBPFSchedules', { taskId: ids.onTask })).eBPFSchedules as Array<
      Record<string, any>
    >;
    assert.deepEqual(schedules.map((s) => s.process.name).sort(), ['nginx', 'redis-server']);
    ids.schedule = schedules[0]!.scheduleId;
    const ranges = [
      {
        start: Math.min(...schedules.map((s) => s.startTime)),
        end: Math.max(...schedules.map((s) => s.endTime)),
      },
    ];
    const count = (
      await run('getEBPFResult', {
        scheduleIdList: schedules.map((s) => s.scheduleId),
        timeRanges: ranges,
        aggregateType: 'COUNT',
      })
    ).analysisEBPFResult;
    const elements = count.trees.flatMap((t: { elements: unknown[] }) => t.elements) as Array<Record<string, any>>;
    assert.equal(elements.find((e) => e.symbol === 'main')?.dumpCount, 60);
    assert.equal(elements.find((e) => e.symbol === 'aeMain')?.dumpCount, 20);
    assert.equal(elements.find((e) => e.symbol === 'ep_poll')?.stackType, 'KERNEL_SPACE');

    const offSchedules = (await run('getEBPFSchedules', { taskId: ids.offTask })).eBPFSchedules as Array<
      Record<string, any>
    >;
    assert.deepEqual(
      offSchedules.map((s) => s.process.name),
      ['nginx'],
    );
    const offRange = [{ start: offSchedules[0]!.startTime, end: offSchedules[0]!.endTime }];
    const analyze = async (aggregateType: string) => {
      const r = (
        await run('getEBPFResult', {
          scheduleIdList: [offSchedules[0]!.scheduleId],
          timeRanges: offRange,
          aggregateType,
        })
      ).analysisEBPFResult;
      return r.trees
        .flatMap((t: { elements: unknown[] }) => t.elements)
        .find((e: { symbol: string }) => e.symbol === 'main')?.dumpCount;
    };
    assert.equal(await analyze('COUNT'), 37);
    assert.equal(await analyze('DURATION'), 93_000_000);
  });

  it('saves, changes and deletes a dashboard as the UI does', async () => {
    const added = (
      await run('addNewTemplate', {
        setting: { configuration: dashboard('My-eBPF') },
      })
    ).addTemplate;
    assert.equal(added.status, true, added.message);
    ids.template = added.id;
    const changed = (
      await run('updateTemplate', {
        setting: { id: ids.template, configuration: dashboard('My-eBPF-2') },
      })
    ).changeTemplate;
    assert.equal(changed.status, true, changed.message);
    let all = (await run('getTemplates')).getAllTemplates as Array<{
      id: string;
      configuration: string;
    }>;
    assert.equal(JSON.parse(all.find((t) => t.id === ids.template)!.configuration).name, 'My-eBPF-2');
    const removed = (await run('removeTemplate', { id: ids.template })).disableTemplate;
    assert.equal(removed.status, true, removed.message);
    all = (await run('getTemplates')).getAllTemplates;
    assert.ok(!all.some((t) => t.id === ids.template));
    const missing = (
      await run('updateTemplate', {
        setting: { id: 'no-such-template', configuration: '{}' },
      })
    ).changeTemplate;
    assert.equal(missing.status, false);
  });

  it('answers every other document of the UI without an error', async () => {
    const d = duration();
    /** Variables for each document, as the UI fills them in (IDs of the seeded data). */
    const variables = otherUiDocumentVariables(
      {
        hostService: HOST_SERVICE,
        hostServiceId: HOST_SERVICE_ID,
        hostInstanceId: HOST_INSTANCE_ID,
        k8sServiceId: K8S_SERVICE_ID,
        k8sInstanceId: K8S_INSTANCE_ID,
      },
      d,
      Date.now(),
    );
    const failures: string[] = [];
    for (const name of documents.keys()) {
      if (executed.has(name)) continue;
      const vars = variables[name];
      if (!vars) {
        failures.push(`${name}: no variables written for it in this test`);
        continue;
      }
      const res = await graphql(oap.graphqlUrl, documents.get(name)!, vars);
      if (res.errors?.length) failures.push(`${name}: ${res.errors.map((e) => e.message).join('; ')}`);
      else executed.add(name);
    }
    assert.deepEqual(failures, []);
    assert.equal(executed.size, documents.size);
    assert.equal(documents.size, 66, 'booster-ui 10.2.0 sends 66 documents');
  });
});
