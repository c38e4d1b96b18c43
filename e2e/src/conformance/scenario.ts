/**
 * The differential scenario: one gRPC stream as a rover sends it (processes in several layers,
 * keep-alives, an unknown layer, ON_CPU/OFF_CPU, continuous and network tasks with their data,
 * continuous-profiling meters) and every GraphQL document of the stock UI plus every query of
 * the CLI, run in order against one backend. Each step's answer is kept under the step's name;
 * the same scenario runs against the Java OAP (harness) and oap-lite (harness and replay test).
 */
import { OapApi, OapClient } from '@swlite/cli';
import {
  AgentClient,
  graphql,
  hostProcess,
  loadUiDocuments,
  minuteDuration,
  onCpuData,
  otherUiDocumentVariables,
  roverMeterCollection,
  type UiEntityIds,
} from '@swlite/testkit';
import type { EBPFProcessProperties, EBPFProfilingData } from '@swlite/protocol';

export interface Target {
  name: string;
  graphqlUrl: string;
  grpcAddress: string;
  /**
   * Longest wait for asynchronous persistence before a step's precondition holds (the Java OAP
   * writes through Elasticsearch and refreshes caches every 10 to 20 s; oap-lite is synchronous).
   */
  settleMs: number;
}

/** A step's answer: GraphQL data, or the error messages, or what a gRPC call returned. */
export type Answer = { data: unknown } | { errors: string[] };
export interface ScenarioRun {
  answers: Record<string, Answer>;
  /** Generated IDs under symbolic names, so answers can be compared across backends. */
  ids: Record<string, string>;
  log: string[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
export const HOST_SERVICE = 'demo-host';
export const MESH_SERVICE = 'default::shop';
const HOST_INSTANCE = 'host-1';
const POD = 'shop-7d9f-abcde';
export const ENTITY_IDS: UiEntityIds = {
  hostService: HOST_SERVICE,
  hostServiceId: `${b64(HOST_SERVICE)}.1`,
  hostInstanceId: `${b64(HOST_SERVICE)}.1_${b64(HOST_INSTANCE)}`,
  k8sServiceId: `${b64(MESH_SERVICE)}.1`,
  k8sInstanceId: `${b64(MESH_SERVICE)}.1_${b64(POD)}`,
};
const AGENT_ID = 'conformance-rover';

const k8sProcess = (layer: string, name: string, pid: number, labels: string[] = []): EBPFProcessProperties => ({
  k8sProcess: {
    entity: { layer, serviceName: MESH_SERVICE, instanceName: POD, processName: name, labels },
    pid,
    properties: [
      { key: 'pid', value: String(pid) },
      { key: 'command_line', value: `/usr/local/bin/${name}` },
      { key: 'support_ebpf_profiling', value: 'true' },
    ],
  },
});

/** The processes the rover reports, as [name in ids, process]. */
const PROCESSES: Array<[string, EBPFProcessProperties]> = [
  [
    'process:nginx',
    hostProcess('nginx', { service: HOST_SERVICE, instance: HOST_INSTANCE, labels: ['web'], pid: 1010 }),
  ],
  [
    'process:redis',
    hostProcess('redis-server', { service: HOST_SERVICE, instance: HOST_INSTANCE, labels: ['cache'], pid: 1020 }),
  ],
  ['process:java-k8s', k8sProcess('K8S_SERVICE', 'java', 2010)],
  ['process:java-mesh', k8sProcess('MESH', 'java', 2010)],
  ['process:envoy', k8sProcess('MESH_DP', 'envoy', 2020, ['mesh-envoy'])],
];

const entityOf = (p: EBPFProcessProperties) => (p.hostProcess ?? p.k8sProcess)!.entity!;

/** A SECOND-step Duration ("2026-12-07 153045") in this machine's time zone. */
const secondDuration = (from: number, to: number) => {
  const fmt = (t: number) => {
    const d = new Date(t);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  };
  return { start: fmt(from), end: fmt(to), step: 'SECOND' };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const runScenario = async (target: Target): Promise<ScenarioRun> => {
  const documents = loadUiDocuments();
  if (documents.size === 0) throw new Error('shared/conformance/ui-operations.json not found');
  const answers: Record<string, Answer> = {};
  const ids: Record<string, string> = {};
  const log: string[] = [];
  const agent = new AgentClient(target.grpcAddress, AGENT_ID);
  const cli = new OapApi(new OapClient(target.graphqlUrl, { timeoutMs: 60_000 }));
  const started = Date.now();
  const now = () => Date.now();
  const recent = () => minuteDuration(started - 30 * 60_000, now() + 60_000);

  const gql = async (query: string, variables: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await graphql(target.graphqlUrl, query, variables);
    if (res.errors?.length) return { errors: res.errors.map((e) => e.message) };
    return { data: res.data ?? null };
  };
  /** Runs a stock-UI document by its name and records the answer under `key`. */
  const ui = async (name: string, variables: Record<string, unknown> = {}, key = name): Promise<any> => {
    const doc = documents.get(name);
    if (!doc) throw new Error(`ui-operations.json has no document ${name}`);
    const answer = await gql(doc, variables);
    answers[key] = answer;
    return 'data' in answer ? answer.data : null;
  };
  const record = async (key: string, action: () => Promise<unknown>): Promise<any> => {
    try {
      const data = await action();
      answers[key] = { data: data ?? null };
      return data;
    } catch (err) {
      answers[key] = { errors: [err instanceof Error ? err.message : String(err)] };
      return null;
    }
  };
  /** Polls a GraphQL document until `ready` holds (a backend that persists asynchronously). */
  const settle = async (
    what: string,
    query: string,
    variables: Record<string, unknown>,
    ready: (data: any) => boolean,
  ) => {
    const deadline = Date.now() + target.settleMs;
    for (;;) {
      const answer = await gql(query, variables);
      if ('data' in answer && ready(answer.data)) return;
      if (Date.now() >= deadline) {
        log.push(`${target.name}: "${what}" did not settle within ${target.settleMs} ms`);
        return;
      }
      await sleep(1000);
    }
  };

  try {
    // ---- processes: report, keep alive, an unknown layer ----
    const reported = await record('grpc.reportProcesses', () => agent.reportProcesses(PROCESSES.map(([, p]) => p)));
    reported?.processes?.forEach((p: { processId: string }, i: number) => (ids[PROCESSES[i]![0]] = p.processId));
    const pings = PROCESSES.map(([, p]) => ({
      entityMetadata: entityOf(p),
      properties: ((p.hostProcess ?? p.k8sProcess)!.properties ?? []).map((kv) => ({
        key: kv.key ?? '',
        value: kv.value ?? '',
      })),
    }));
    await record('grpc.keepAlive', () => agent.keepAlive(pings));
    await record('grpc.keepAlive.unknownLayer', async () => {
      try {
        await agent.keepAlive([
          {
            entityMetadata: {
              layer: 'NO_SUCH_LAYER',
              serviceName: 'ghost',
              instanceName: 'ghost-1',
              processName: 'ghost',
              labels: [],
            },
          },
        ]);
        return { rejected: false };
      } catch {
        return { rejected: true };
      }
    });
    await settle('services and their layers', '{ listServices { name layers } }', {}, (d) => {
      const shop = d.listServices.find((s: { name: string }) => s.name === MESH_SERVICE);
      return d.listServices.some((s: { name: string }) => s.name === HOST_SERVICE) && shop?.layers.length === 3;
    });
    await settle(
      'the mesh service hierarchy',
      'query ($id: ID!) { getServiceHierarchy(serviceId: $id, layer: "MESH") { relations { upperService { id } } } }',
      { id: ENTITY_IDS.k8sServiceId },
      (d) => d.getServiceHierarchy.relations.length > 0,
    );

    // ---- the app and the selectors, as the UI opens a layer ----
    await ui('queryOAPVersion');
    await ui('queryOAPTimeInfo');
    await ui('queryMetricsTTL');
    await ui('queryRecordsTTL');
    await ui('queryMenuItems');
    await ui('getTemplates');
    await ui('queryLayers');
    await ui('queryListLayerLevels');
    await ui('queryServices', { layer: 'OS_LINUX' });
    await ui('queryServices', { layer: 'MESH' }, 'queryServices(MESH)');
    await ui('queryServices', { layer: 'MESH_DP' }, 'queryServices(MESH_DP)');
    await ui('queryService', { serviceId: ENTITY_IDS.hostServiceId });
    await ui('queryService', { serviceId: ENTITY_IDS.k8sServiceId }, 'queryService(shop)');
    await ui('queryInstances', { serviceId: ENTITY_IDS.hostServiceId, duration: recent() });
    await ui(
      'queryInstances',
      {
        serviceId: ENTITY_IDS.hostServiceId,
        duration: minuteDuration(started - 3 * 3_600_000, started - 2 * 3_600_000),
      },
      'queryInstances(before it existed)',
    );
    await ui('queryInstance', { instanceId: ENTITY_IDS.hostInstanceId });
    await ui('queryProcesses', { instanceId: ENTITY_IDS.hostInstanceId, duration: recent() });
    await ui('queryProcesses', { instanceId: ENTITY_IDS.k8sInstanceId, duration: recent() }, 'queryProcesses(pod)');
    await ui(
      'queryProcesses',
      { instanceId: ENTITY_IDS.hostInstanceId, duration: secondDuration(started - 30 * 60_000, now() + 60_000) },
      'queryProcesses(SECOND step)',
    );
    await ui('queryProcess', { processId: ids['process:nginx'] });
    await ui('queryEndpoints', { serviceId: ENTITY_IDS.hostServiceId, keyword: '', limit: 20, duration: recent() });
    await ui('queryEndpoint', { endpointId: `${ENTITY_IDS.hostServiceId}_${b64('/')}` });
    for (const layer of ['MESH', 'MESH_DP', 'K8S_SERVICE']) {
      await ui(
        'getHierarchyServiceTopology',
        { serviceId: ENTITY_IDS.k8sServiceId, layer },
        `getHierarchyServiceTopology(${layer})`,
      );
      await ui(
        'getHierarchyInstanceTopology',
        { instanceId: ENTITY_IDS.k8sInstanceId, layer },
        `getHierarchyInstanceTopology(${layer})`,
      );
    }

    // ---- fixed-time eBPF tasks, the rover's poll and uploads, the analysis ----
    await ui('getCreateTaskData', { serviceId: ENTITY_IDS.hostServiceId });
    const list = { serviceId: ENTITY_IDS.hostServiceId, targets: ['ON_CPU', 'OFF_CPU'], triggerType: 'FIXED_TIME' };
    await ui('getEBPFTasks', list, 'getEBPFTasks(before)');
    const taskStart = now();
    const on = await ui(
      'saveEBPFTask',
      {
        request: {
          serviceId: ENTITY_IDS.hostServiceId,
          processLabels: [],
          startTime: taskStart,
          duration: 600,
          targetType: 'ON_CPU',
        },
      },
      'saveEBPFTask(ON_CPU)',
    );
    ids['task:on'] = on?.createTaskData?.id ?? '';
    const off = await ui(
      'saveEBPFTask',
      {
        request: {
          serviceId: ENTITY_IDS.hostServiceId,
          processLabels: ['web'],
          startTime: taskStart + 1,
          duration: 600,
          targetType: 'OFF_CPU',
        },
      },
      'saveEBPFTask(OFF_CPU)',
    );
    ids['task:off'] = off?.createTaskData?.id ?? '';
    await ui(
      'saveEBPFTask',
      {
        request: {
          serviceId: ENTITY_IDS.hostServiceId,
          processLabels: [],
          startTime: taskStart,
          duration: 600,
          targetType: 'ON_CPU',
        },
      },
      'saveEBPFTask(overlapping)',
    );
    await settle('both tasks', documents.get('getEBPFTasks')!, list, (d) => d.queryEBPFTasks.length >= 2);
    await record('grpc.queryTasks', async () => {
      const res = await agent.queryTasks(0);
      return res.commands.map((c) => ({
        command: c.command,
        args: Object.fromEntries(c.args.map((kv) => [kv.key, kv.value])),
      }));
    });

    const start = now() - 10_000;
    const task = (taskId: string, processId: string) => ({ taskId, processId, start, now: start + 5_000 });
    await record('grpc.collect(ON_CPU)', async () => {
      await agent.collect([
        onCpuData(
          task(ids['task:on']!, ids['process:nginx']!),
          ['ngx_epoll_process_events', 'ngx_worker_process_cycle', 'main'],
          ['ep_poll', 'do_syscall_64'],
          30,
        ),
        onCpuData(null, ['ngx_http_parse_request_line', 'ngx_worker_process_cycle', 'main'], [], 10),
      ]);
      await agent.collect([
        onCpuData(
          task(ids['task:on']!, ids['process:redis']!),
          ['aeProcessEvents', 'aeMain', 'main'],
          ['ep_poll', 'do_syscall_64'],
          20,
        ),
      ]);
      return { sent: true };
    });
    const offCpu = (
      user: string[],
      kernel: string[],
      switchCount: number,
      duration: number,
    ): EBPFProfilingData['offCPU'] => ({
      stacks: [
        { stackType: 'PROCESS_USER_SPACE', stackId: user.length, stackSymbols: user },
        ...(kernel.length
          ? [{ stackType: 'PROCESS_KERNEL_SPACE' as const, stackId: 100 + kernel.length, stackSymbols: kernel }]
          : []),
      ],
      switchCount,
      duration,
    });
    await record('grpc.collect(OFF_CPU)', async () => {
      const t = task(ids['task:off']!, ids['process:nginx']!);
      await agent.collect([
        {
          task: { taskId: t.taskId, processId: t.processId, profilingStartTime: t.start, currentTime: t.now },
          offCPU: offCpu(['__libc_write', 'ngx_write_fd', 'main'], ['schedule', 'vfs_write'], 7, 3_000_000),
        },
        { offCPU: offCpu(['epoll_wait', 'ngx_epoll_process_events', 'main'], [], 30, 90_000_000) },
      ]);
      return { sent: true };
    });
    await settle(
      'the on-CPU schedules',
      documents.get('getEBPFSchedules')!,
      { taskId: ids['task:on'] },
      (d) => d.eBPFSchedules.length >= 2,
    );
    await settle(
      'the off-CPU schedule',
      documents.get('getEBPFSchedules')!,
      { taskId: ids['task:off'] },
      (d) => d.eBPFSchedules.length >= 1,
    );
    await ui('getEBPFTasks', list);
    answers['getEBPFTasks(duration)'] = await gql(
      'query ($s: ID, $d: Duration) { queryEBPFTasks: queryEBPFProfilingTasks(serviceId: $s, duration: $d) { taskId targetType } }',
      { s: ENTITY_IDS.hostServiceId, d: recent() },
    );
    const schedules =
      (await ui('getEBPFSchedules', { taskId: ids['task:on'] }, 'getEBPFSchedules(ON_CPU)'))?.eBPFSchedules ?? [];
    schedules.forEach(
      (s: { scheduleId: string; process: { name: string } }) => (ids[`schedule:on:${s.process.name}`] = s.scheduleId),
    );
    const span = (list: Array<{ startTime: number; endTime: number }>) =>
      list.length
        ? [{ start: Math.min(...list.map((s) => s.startTime)), end: Math.max(...list.map((s) => s.endTime)) }]
        : [];
    const analysis = {
      scheduleIdList: schedules.map((s: { scheduleId: string }) => s.scheduleId),
      timeRanges: span(schedules),
    };
    await settle(
      'the on-CPU data',
      documents.get('getEBPFResult')!,
      { ...analysis, aggregateType: 'COUNT' },
      (d) => d.analysisEBPFResult.trees.length > 0,
    );
    await ui('getEBPFResult', { ...analysis, aggregateType: 'COUNT' }, 'getEBPFResult(ON_CPU,COUNT)');
    const offSchedules =
      (await ui('getEBPFSchedules', { taskId: ids['task:off'] }, 'getEBPFSchedules(OFF_CPU)'))?.eBPFSchedules ?? [];
    offSchedules.forEach((s: { scheduleId: string }) => (ids['schedule:off:nginx'] = s.scheduleId));
    const offAnalysis = {
      scheduleIdList: offSchedules.map((s: { scheduleId: string }) => s.scheduleId),
      timeRanges: span(offSchedules),
    };
    await settle(
      'the off-CPU data',
      documents.get('getEBPFResult')!,
      { ...offAnalysis, aggregateType: 'COUNT' },
      (d) => d.analysisEBPFResult.trees.length > 0,
    );
    await ui('getEBPFResult', { ...offAnalysis, aggregateType: 'COUNT' }, 'getEBPFResult(OFF_CPU,COUNT)');
    await ui('getEBPFResult', { ...offAnalysis, aggregateType: 'DURATION' }, 'getEBPFResult(OFF_CPU,DURATION)');
    await ui(
      'getEBPFResult',
      { ...analysis, timeRanges: [{ start: 1, end: 1 }], aggregateType: 'COUNT' },
      'getEBPFResult(empty range)',
    );

    // ---- continuous profiling: policies, the rover's poll and report, the triggered task ----
    const policy = (count: number, period: number) => ({
      request: {
        serviceId: ENTITY_IDS.hostServiceId,
        targets: [{ targetType: 'ON_CPU', checkItems: [{ type: 'PROCESS_CPU', threshold: '80', period, count }] }],
      },
    });
    await ui('editStrategy', policy(5, 3), 'editStrategy(count > period)');
    await ui('editStrategy', policy(3, 10));
    await settle(
      'the policy',
      documents.get('getStrategyList')!,
      { serviceId: ENTITY_IDS.hostServiceId },
      (d) => d.strategyList.length > 0,
    );
    await ui('getStrategyList', { serviceId: ENTITY_IDS.hostServiceId });
    const policies = await record('grpc.queryPolicies', async () => {
      const res = await new Promise<any>((resolve, reject) =>
        agent.continuous.queryPolicies({ policies: [{ serviceName: HOST_SERVICE, uuid: '' }] }, (err, value) =>
          err ? reject(err) : resolve(value),
        ),
      );
      return res.commands.map((c: any) => ({
        command: c.command,
        args: Object.fromEntries(c.args.map((kv: any) => [kv.key, kv.value])),
      }));
    });
    if (policies?.[0]?.args?.ServiceWithPolicyJSON) {
      for (const entry of JSON.parse(policies[0].args.ServiceWithPolicyJSON) as Array<{ uuid?: string }>)
        if (entry.uuid) ids['policy:uuid'] = entry.uuid;
    }
    await record('grpc.reportProfilingTask', async () => {
      const res = await new Promise<any>((resolve, reject) =>
        agent.continuous.reportProfilingTask(
          {
            layer: 'OS_LINUX',
            serviceName: HOST_SERVICE,
            instanceName: HOST_INSTANCE,
            processName: 'nginx',
            causes: [{ type: 'ProcessCPU', singleValue: { threshold: 80, current: 93.5 } }],
            duration: 60,
            targetTask: 'onCPU',
            onCPU: {},
          } as never,
          (err, value) => (err ? reject(err) : resolve(value)),
        ),
      );
      const args = Object.fromEntries(res.commands[0].args.map((kv: any) => [kv.key, kv.value])) as Record<
        string,
        string
      >;
      ids['task:continuous'] = args.TaskId ?? '';
      return res.commands.map((c: any) => ({
        command: c.command,
        args: Object.fromEntries(c.args.map((kv: any) => [kv.key, kv.value])),
      }));
    });
    const continuousList = {
      serviceId: ENTITY_IDS.hostServiceId,
      targets: ['ON_CPU'],
      triggerType: 'CONTINUOUS_PROFILING',
    };
    await settle(
      'the continuous task',
      documents.get('getEBPFTasks')!,
      continuousList,
      (d) => d.queryEBPFTasks.length > 0,
    );
    await ui('getEBPFTasks', continuousList, 'getEBPFTasks(CONTINUOUS_PROFILING)');
    await ui('getMonitoringInstances', { serviceId: ENTITY_IDS.hostServiceId, target: 'ON_CPU' });
    await record('grpc.collect(continuous)', async () => {
      await agent.collect([
        onCpuData(
          task(ids['task:continuous']!, ids['process:nginx']!),
          ['ngx_process_events_and_timers', 'main'],
          ['do_syscall_64'],
          12,
        ),
      ]);
      return { sent: true };
    });
    await settle(
      'the continuous schedule',
      documents.get('getEBPFSchedules')!,
      { taskId: ids['task:continuous'] },
      (d) => d.eBPFSchedules.length > 0,
    );
    const continuousSchedules =
      (await ui('getEBPFSchedules', { taskId: ids['task:continuous'] }, 'getEBPFSchedules(CONTINUOUS_PROFILING)'))
        ?.eBPFSchedules ?? [];
    continuousSchedules.forEach((s: { scheduleId: string }) => (ids['schedule:continuous:nginx'] = s.scheduleId));
    const continuousAnalysis = {
      scheduleIdList: continuousSchedules.map((s: { scheduleId: string }) => s.scheduleId),
      timeRanges: span(continuousSchedules),
    };
    await settle(
      'the continuous data',
      documents.get('getEBPFResult')!,
      { ...continuousAnalysis, aggregateType: 'COUNT' },
      (d) => d.analysisEBPFResult.trees.length > 0,
    );
    await ui('getEBPFResult', { ...continuousAnalysis, aggregateType: 'COUNT' }, 'getEBPFResult(CONTINUOUS_PROFILING)');

    // ---- network profiling of the pod ----
    const network = await ui('newNetworkProfiling', {
      request: {
        instanceId: ENTITY_IDS.k8sInstanceId,
        samplings: [
          {
            minDuration: 0,
            when4xx: true,
            when5xx: true,
            settings: { requireCompleteRequest: true, requireCompleteResponse: true },
          },
        ],
      },
    });
    ids['task:network'] = network?.createEBPFNetworkProfiling?.id ?? '';
    await ui('aliveNetworkProfiling', { taskId: ids['task:network'] });
    await ui(
      'getEBPFTasks',
      { serviceId: ENTITY_IDS.k8sServiceId, targets: ['NETWORK'], triggerType: 'FIXED_TIME' },
      'getEBPFTasks(NETWORK)',
    );

    // ---- continuous-profiling meters, read back with MQE ----
    await record('grpc.sendMeters', async () => {
      await agent.sendMeters([
        roverMeterCollection([{ process: 'nginx', processCpu: 0.42, threadCount: 5 }], {
          service: HOST_SERVICE,
          instance: HOST_INSTANCE,
          timestamp: now(),
        }),
      ]);
      return { sent: true };
    });
    const mqe = `query ($expression: String!, $entity: Entity!, $duration: Duration!) {
      execExpression(expression: $expression, entity: $entity, duration: $duration) {
        type error results { metric { labels { key value } } values { id value } } } }`;
    const entity = {
      serviceName: HOST_SERVICE,
      normal: true,
      serviceInstanceName: HOST_INSTANCE,
      processName: 'nginx',
      scope: 'Process',
    };
    const meterVars = (expression: string) => ({
      expression,
      entity,
      duration: minuteDuration(now() - 2 * 60_000, now() + 60_000),
    });
    await settle('the meters', mqe, meterVars('continuous_profiling_process_cpu'), (d) =>
      d.execExpression.results.some((r: any) => r.values.some((v: any) => v.value !== null)),
    );
    for (const metric of [
      'continuous_profiling_process_cpu',
      'continuous_profiling_process_thread_count',
      'no_such_metric',
    ])
      answers[`execExpression(${metric})`] = await gql(mqe, meterVars(metric));

    // ---- a dashboard saved, changed and removed as the UI does ----
    const dashboard = (name: string) =>
      JSON.stringify({
        name,
        layer: 'OS_LINUX',
        entity: 'Service',
        isRoot: false,
        isDefault: false,
        children: [{ x: 0, y: 0, w: 24, h: 48, i: '0', type: 'Ebpf' }],
      });
    const added = await ui('addNewTemplate', { setting: { configuration: dashboard('conformance-eBPF') } });
    ids['template'] = added?.addTemplate?.id ?? '';
    await ui('updateTemplate', { setting: { id: ids['template'], configuration: dashboard('conformance-eBPF-2') } });
    await ui('removeTemplate', { id: ids['template'] });
    await ui('updateTemplate', { setting: { id: 'no-such-template', configuration: '{}' } }, 'updateTemplate(unknown)');

    // ---- every other document of the UI ----
    const others = otherUiDocumentVariables(ENTITY_IDS, recent(), now());
    for (const name of [...documents.keys()].sort()) {
      if (name in answers || !others[name]) continue;
      await ui(name, others[name]);
    }

    // ---- what the CLI asks ----
    await record('cli.timeInfo', () => cli.timeInfo());
    await record('cli.listServices', () => cli.listServices());
    await record('cli.listServices(MESH)', () => cli.listServices('MESH'));
    await record('cli.resolveService', () => cli.resolveService(HOST_SERVICE));
    await record('cli.resolveService(unknown)', () => cli.resolveService('no-such-service'));
    await record('cli.listInstances', async () =>
      cli.listInstances(ENTITY_IDS.hostServiceId, await cli.recentDuration(30)),
    );
    await record('cli.listProcesses', async () =>
      cli.listProcesses(ENTITY_IDS.hostInstanceId, await cli.recentDuration(30)),
    );
    await record('cli.queryTasks', () => cli.queryTasks({ serviceId: ENTITY_IDS.hostServiceId }));
    await record('cli.queryTasks(all)', () => cli.queryTasks());
    await record('cli.queryTasks(CONTINUOUS_PROFILING)', () =>
      cli.queryTasks({ serviceId: ENTITY_IDS.hostServiceId, triggerType: 'CONTINUOUS_PROFILING' }),
    );
    await record('cli.prepareTask', () => cli.prepareTask(ENTITY_IDS.hostServiceId));
    await record('cli.createFixedTimeTask(overlapping)', () =>
      cli.createFixedTimeTask({
        serviceId: ENTITY_IDS.hostServiceId,
        processLabels: [],
        startTime: taskStart,
        duration: 600,
        targetType: 'ON_CPU',
      }),
    );
    await record('cli.schedules', () => cli.schedules(ids['task:on']!));
    await record('cli.analysis', () => cli.analysis(analysis.scheduleIdList, analysis.timeRanges, 'COUNT'));
    await record('cli.analysis(DURATION)', () =>
      cli.analysis(offAnalysis.scheduleIdList, offAnalysis.timeRanges, 'DURATION'),
    );
  } finally {
    agent.close();
  }
  return { answers, ids, log };
};
