/** The GraphQL operations the CLI sends, typed (the query protocol's metadata-v2 and ebpf-profiling). */
import type { OapClient } from './client';
import { UserError } from './errors';
import type { AnalysisTree } from './render/types';

export type TargetType = 'ON_CPU' | 'OFF_CPU';
export type TriggerType = 'FIXED_TIME' | 'CONTINUOUS_PROFILING';
export type AggregateType = 'COUNT' | 'DURATION';

export interface Service {
  id: string;
  name: string;
  group: string;
  shortName: string;
  layers: string[];
  normal: boolean | null;
}
export interface Attribute {
  name: string;
  value: string;
}
export interface Instance {
  id: string;
  name: string;
  language: string;
  instanceUUID: string;
  attributes: Attribute[];
}
export interface Process {
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  instanceId: string;
  instanceName: string;
  agentId: string;
  detectType: string;
  labels: string[];
  attributes: Attribute[];
}
export interface Task {
  taskId: string;
  serviceId: string;
  serviceName: string;
  serviceInstanceName: string | null;
  processLabels: string[];
  processName: string | null;
  taskStartTime: number;
  triggerType: TriggerType;
  fixedTriggerDuration: number | null;
  targetType: TargetType | 'NETWORK';
  createTime: number;
}
export interface Schedule {
  scheduleId: string;
  taskId: string;
  startTime: number;
  endTime: number;
  process: {
    id: string;
    name: string;
    instanceName: string;
    labels: string[];
    attributes: Attribute[];
  };
}
export interface Analysis {
  tip: string | null;
  trees: AnalysisTree[];
}

/** A query-protocol Duration (MINUTE step) covering [from, to], written in the server's time zone. */
export const minuteDuration = (from: number, to: number, timezone: string | null | undefined) => {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(timezone ?? '');
  const offsetMs = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : -new Date().getTimezoneOffset() * 60_000;
  const fmt = (t: number) => {
    const d = new Date(t + offsetMs);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
  };
  return { start: fmt(from), end: fmt(to), step: 'MINUTE' };
};

const PROCESS_FIELDS = 'id name serviceId serviceName instanceId instanceName agentId detectType labels attributes { name value }';
const TASK_FIELDS =
  'taskId serviceId serviceName serviceInstanceName processLabels processName taskStartTime triggerType fixedTriggerDuration targetType createTime';

export class OapApi {
  constructor(readonly client: OapClient) {}

  async timeInfo(): Promise<{
    timezone: string | null;
    currentTimestamp: number;
  }> {
    const data = await this.client.request<{
      getTimeInfo: {
        timezone: string | null;
        currentTimestamp: number | null;
      } | null;
    }>('{ getTimeInfo { timezone currentTimestamp } }');
    return {
      timezone: data.getTimeInfo?.timezone ?? null,
      currentTimestamp: Number(data.getTimeInfo?.currentTimestamp ?? Date.now()),
    };
  }

  /** A Duration for the last `minutes` minutes, in the server's clock and time zone. */
  async recentDuration(minutes: number) {
    const { timezone, currentTimestamp } = await this.timeInfo();
    return minuteDuration(currentTimestamp - minutes * 60_000, currentTimestamp, timezone);
  }

  async listServices(layer?: string): Promise<Service[]> {
    const data = await this.client.request<{ listServices: Service[] }>(
      'query ($layer: String) { listServices(layer: $layer) { id name group shortName layers normal } }',
      { layer: layer ?? null },
    );
    return data.listServices;
  }

  /** The service with this name (or ID); otherwise a UserError naming the known services. */
  async resolveService(nameOrId: string): Promise<Service> {
    const data = await this.client.request<{
      findService: Service | null;
      getService: Service | null;
    }>(
      'query ($name: String!) { findService(serviceName: $name) { id name group shortName layers normal } getService(serviceId: $name) { id name group shortName layers normal } }',
      { name: nameOrId },
    );
    const found = data.findService ?? data.getService;
    if (found) return found;
    const known = (await this.listServices()).map((s) => s.name).sort();
    throw new UserError(
      `unknown service "${nameOrId}"; ` +
        (known.length
          ? `known services: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}`
          : 'oap-lite knows no services yet (is a rover reporting processes?)'),
    );
  }

  async listInstances(serviceId: string, duration: object): Promise<Instance[]> {
    const data = await this.client.request<{ listInstances: Instance[] }>(
      'query ($d: Duration!, $s: ID!) { listInstances(duration: $d, serviceId: $s) { id name language instanceUUID attributes { name value } } }',
      { d: duration, s: serviceId },
    );
    return data.listInstances;
  }

  async listProcesses(instanceId: string, duration: object): Promise<Process[]> {
    const data = await this.client.request<{ listProcesses: Process[] }>(
      `query ($d: Duration!, $i: ID!) { listProcesses(duration: $d, instanceId: $i) { ${PROCESS_FIELDS} } }`,
      { d: duration, i: instanceId },
    );
    return data.listProcesses;
  }

  async queryTasks(
    filter: {
      serviceId?: string;
      targets?: TargetType[];
      triggerType?: TriggerType;
    } = {},
  ): Promise<Task[]> {
    const data = await this.client.request<{ queryEBPFProfilingTasks: Task[] }>(
      `query ($s: ID, $t: [EBPFProfilingTargetType!], $tr: EBPFProfilingTriggerType) {
        queryEBPFProfilingTasks(serviceId: $s, targets: $t, triggerType: $tr) { ${TASK_FIELDS} } }`,
      {
        s: filter.serviceId ?? null,
        t: filter.targets ?? null,
        tr: filter.triggerType ?? null,
      },
    );
    return data.queryEBPFProfilingTasks;
  }

  async prepareTask(serviceId: string): Promise<{ couldProfiling: boolean; processLabels: string[] }> {
    const data = await this.client.request<{
      queryPrepareCreateEBPFProfilingTaskData: {
        couldProfiling: boolean;
        processLabels: string[];
      };
    }>('query ($s: ID!) { queryPrepareCreateEBPFProfilingTaskData(serviceId: $s) { couldProfiling processLabels } }', { s: serviceId });
    return data.queryPrepareCreateEBPFProfilingTaskData;
  }

  /** Creates a fixed-time task and returns its ID; the server's refusal becomes a UserError. */
  async createFixedTimeTask(request: {
    serviceId: string;
    processLabels: string[];
    startTime: number;
    duration: number;
    targetType: TargetType;
  }): Promise<string> {
    const data = await this.client.request<{
      createEBPFProfilingFixedTimeTask: {
        status: boolean;
        errorReason: string | null;
        id: string | null;
      };
    }>(
      'mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { status errorReason id } }',
      { r: request },
    );
    const result = data.createEBPFProfilingFixedTimeTask;
    if (!result.status || !result.id) throw new UserError(`oap-lite did not create the task: ${result.errorReason ?? 'no reason given'}`);
    return result.id;
  }

  async schedules(taskId: string): Promise<Schedule[]> {
    const data = await this.client.request<{
      queryEBPFProfilingSchedules: Schedule[];
    }>(
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) {
        scheduleId taskId startTime endTime process { id name instanceName labels attributes { name value } } } }`,
      { t: taskId },
    );
    return data.queryEBPFProfilingSchedules;
  }

  async analysis(scheduleIds: string[], ranges: Array<{ start: number; end: number }>, aggregateType: AggregateType): Promise<Analysis> {
    const data = await this.client.request<{
      analysisEBPFProfilingResult: Analysis;
    }>(
      `query ($ids: [ID!]!, $ranges: [EBPFProfilingAnalyzeTimeRange!]!, $agg: EBPFProfilingAnalyzeAggregateType) {
        analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $ranges, aggregateType: $agg) {
          tip trees { elements { id parentId symbol stackType dumpCount } } } }`,
      { ids: scheduleIds, ranges, agg: aggregateType },
    );
    return data.analysisEBPFProfilingResult;
  }
}
