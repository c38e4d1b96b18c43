/** The UI's eBPF profiling flow over GraphQL: create a task, wait for its data, read the trees. */
import { graphqlOk, minuteDuration } from './graphql-client';

export interface Element {
  id: string;
  parentId: string;
  symbol: string;
  stackType: 'KERNEL_SPACE' | 'USER_SPACE';
  dumpCount: number;
}

export const serviceIdOf = (name: string) => `${Buffer.from(name).toString('base64')}.1`;
/** The OAP's instance id: the service id, '_', the base64 of the instance name. */
export const instanceIdOf = (service: string, instance: string) =>
  `${serviceIdOf(service)}_${Buffer.from(instance).toString('base64')}`;

export const createTask = async (
  graphqlUrl: string,
  service: string,
  targetType: 'ON_CPU' | 'OFF_CPU',
  durationSeconds: number,
  startTime = -1,
): Promise<{ taskId: string; startTime: number }> => {
  const before = Date.now();
  const result = await graphqlOk(
    graphqlUrl,
    `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { status errorReason id } }`,
    { r: { serviceId: serviceIdOf(service), processLabels: [], startTime, duration: durationSeconds, targetType } },
  );
  const created = result.createEBPFProfilingFixedTimeTask;
  if (!created.status) throw new Error(`task not created: ${created.errorReason}`);
  const tasks = await graphqlOk(
    graphqlUrl,
    `query ($s: ID!) { queryEBPFProfilingTasks(serviceId: $s) { taskId taskStartTime } }`,
    { s: serviceIdOf(service) },
  );
  const task = tasks.queryEBPFProfilingTasks.find((t: { taskId: string }) => t.taskId === created.id);
  return { taskId: created.id, startTime: task?.taskStartTime ?? before };
};

export interface Schedule {
  scheduleId: string;
  startTime: number;
  endTime: number;
  process: { id: string; name: string };
}

export const schedules = async (graphqlUrl: string, taskId: string): Promise<Schedule[]> =>
  (
    await graphqlOk(
      graphqlUrl,
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId startTime endTime process { id name } } }`,
      { t: taskId },
    )
  ).queryEBPFProfilingSchedules;

/** All elements of all trees of the task's schedules (or the given ones) over their whole span. */
export const analyze = async (
  graphqlUrl: string,
  scheduleList: Schedule[],
  aggregateType: 'COUNT' | 'DURATION' = 'COUNT',
): Promise<Element[][]> => {
  if (scheduleList.length === 0) return [];
  const start = Math.min(...scheduleList.map((s) => s.startTime));
  const end = Math.max(...scheduleList.map((s) => s.endTime)) + 1;
  const result = await graphqlOk(
    graphqlUrl,
    `query ($ids: [ID!]!, $ranges: [EBPFProfilingAnalyzeTimeRange!]!, $agg: EBPFProfilingAnalyzeAggregateType) {
      analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $ranges, aggregateType: $agg) {
        tip trees { elements { id parentId symbol stackType dumpCount } } } }`,
    { ids: scheduleList.map((s) => s.scheduleId), ranges: [{ start, end }], agg: aggregateType },
  );
  return result.analysisEBPFProfilingResult.trees.map((t: { elements: Element[] }) => t.elements);
};

/** Sum of a symbol's node values over all trees (each sample passes a non-recursive symbol once). */
export const total = (trees: Element[][], predicate: (symbol: string) => boolean): number =>
  trees.flat().reduce((sum, e) => (predicate(e.symbol) ? sum + e.dumpCount : sum), 0);

/** The value of every root (all samples). */
export const rootTotal = (trees: Element[][]): number => trees.reduce((s, t) => s + (t[0]?.dumpCount ?? 0), 0);

/** Names from the root to the first element with the symbol, in the first tree that has it. */
export const pathTo = (trees: Element[][], symbol: string): string[] => {
  for (const elements of trees) {
    const byId = new Map(elements.map((e) => [e.id, e]));
    let e = elements.find((x) => x.symbol === symbol);
    if (!e) continue;
    const path: string[] = [];
    while (e) {
      path.unshift(e.symbol);
      e = byId.get(e.parentId);
    }
    return path;
  }
  return [];
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Names of the processes of a service seen in the last 10 minutes, as the UI lists them. */
export const processNames = async (graphqlUrl: string, service: string): Promise<string[]> => {
  const duration = minuteDuration(Date.now() - 10 * 60_000, Date.now() + 60_000);
  const svc = await graphqlOk(graphqlUrl, `query ($n: String!) { findService(serviceName: $n) { id } }`, {
    n: service,
  });
  if (!svc.findService) return [];
  const instances = await graphqlOk(
    graphqlUrl,
    `query ($d: Duration!, $s: ID!) { listInstances(duration: $d, serviceId: $s) { id } }`,
    { d: duration, s: svc.findService.id },
  );
  const names: string[] = [];
  for (const instance of instances.listInstances as Array<{ id: string }>) {
    const processes = await graphqlOk(
      graphqlUrl,
      `query ($d: Duration!, $i: ID!) { listProcesses(duration: $d, instanceId: $i) { name } }`,
      { d: duration, i: instance.id },
    );
    names.push(...(processes.listProcesses as Array<{ name: string }>).map((p) => p.name));
  }
  return names;
};
