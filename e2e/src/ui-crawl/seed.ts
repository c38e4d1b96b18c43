/**
 * Fills a running oap-lite the way rovers would, so every stock UI page has something to draw:
 * processes in each layer rover reports (plus GENERAL, a layer oap-lite has no dashboards for),
 * a fixed-time on-CPU task with uploaded stacks, a continuous-profiling policy on every service and
 * a task one of them triggered.
 */
import { AgentClient, graphqlOk, hostProcess, onCpuData } from '@swlite/testkit';

export const SEEDED_LAYERS = ['OS_LINUX', 'K8S_SERVICE', 'MESH', 'MESH_DP', 'GENERAL'] as const;
export type SeededLayer = (typeof SEEDED_LAYERS)[number];

/** One service per layer, two instances, two processes each: names say where they belong. */
const serviceOf = (layer: SeededLayer) => `crawl-${layer.toLowerCase().replace(/_/g, '-')}`;

export interface Seeded {
  /** The OS_LINUX service that has the profiling task and the continuous policy. */
  profiledService: string;
  taskId: string;
}

const reportContinuousTask = (agent: AgentClient, service: string, instance: string, process: string) =>
  new Promise<void>((resolve, reject) =>
    agent.continuous.reportProfilingTask(
      {
        layer: 'OS_LINUX',
        serviceName: service,
        instanceName: instance,
        processName: process,
        duration: 60,
        onCPU: {},
        causes: [
          {
            type: 'ProcessCPU',
            singleValue: { threshold: 50, current: 93 },
          },
        ],
      },
      (err) => (err ? reject(err) : resolve()),
    ),
  );

export const seedOap = async (graphqlUrl: string, grpcAddress: string): Promise<Seeded> => {
  const agent = new AgentClient(grpcAddress, 'ui-crawl-rover');
  try {
    let pid = 100;
    const ids = new Map<string, string>();
    for (const layer of SEEDED_LAYERS) {
      const service = serviceOf(layer);
      for (const instance of ['node-a', 'node-b']) {
        const processes = ['nginx', 'worker'].map((name) =>
          hostProcess(name, { layer, service, instance, pid: pid++, labels: name === 'nginx' ? ['proxy'] : [] }),
        );
        const res = await agent.reportProcesses(processes);
        res.processes.forEach((p, i) => ids.set(`${service}/${instance}/${['nginx', 'worker'][i]}`, p.processId));
      }
    }
    const profiledService = serviceOf('OS_LINUX');
    const serviceId = `${Buffer.from(profiledService).toString('base64')}.1`;
    const created = await graphqlOk<{ task: { id: string; status: boolean; errorReason: string | null } }>(
      graphqlUrl,
      `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) {
        task: createEBPFProfilingFixedTimeTask(request: $r) { id status errorReason } }`,
      { r: { serviceId, processLabels: [], startTime: Date.now() - 30_000, duration: 60, targetType: 'ON_CPU' } },
    );
    if (!created.task.status) throw new Error(`creating the profiling task: ${created.task.errorReason}`);
    const taskId = created.task.id;
    const start = Date.now() - 20_000;
    for (const name of ['nginx', 'worker']) {
      const processId = ids.get(`${profiledService}/node-a/${name}`)!;
      await agent.collect([
        onCpuData(
          { taskId, processId, start, now: start + 5_000 },
          [`${name}_process_events`, `${name}_cycle`, 'main'],
          ['do_syscall_64', 'entry_SYSCALL_64'],
          40,
        ),
        onCpuData(null, [`${name}_log_handler`, `${name}_cycle`, 'main'], [], 12),
      ]);
    }
    // A policy on every service: the Continuous Profiling tab lists monitored instances under one.
    for (const layer of SEEDED_LAYERS) {
      const policy = await graphqlOk<{ policy: { status: boolean; errorReason: string | null } }>(
        graphqlUrl,
        `mutation ($r: ContinuousProfilingPolicyCreation!) {
          policy: setContinuousProfilingPolicy(request: $r) { status errorReason } }`,
        {
          r: {
            serviceId: `${Buffer.from(serviceOf(layer)).toString('base64')}.1`,
            targets: [
              { targetType: 'ON_CPU', checkItems: [{ type: 'PROCESS_CPU', threshold: '50', period: 10, count: 3 }] },
            ],
          },
        },
      );
      if (!policy.policy.status) throw new Error(`setting the continuous policy: ${policy.policy.errorReason}`);
    }
    await reportContinuousTask(agent, profiledService, 'node-a', 'nginx');
    return { profiledService, taskId };
  } finally {
    agent.close();
  }
};
